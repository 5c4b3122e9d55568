;; fuzz-regression {"seed":1,"sig":{"params":[{"k":"scalar","ty":"f64","active":true}],"result":true,"single":false}}
;; reverse-fd: dL/dx0 (argument 0): reverse 1, finite differences 0 (h/4: 0, 4h: 0), relErr 1 (tolerance 0.000001)
;; Early return whose condition is computed from a local: the reverse sweep recomputed the
;; return-join condition from a local it had not set and took the return path.
;; k(x) = 0 (i0 = 1, so the return is not taken), dk/dx = 0; reverse gave 1 before 6dfeb5e.
;; Found by the fuzzer (an early return after a loop, on the loop counter's parity), reduced by hand.
(module
  (memory (export "memory") 1)
  (func (export "k") (param $x0 f64) (result f64)
    (local $i0 i32)
    (local.set $i0 (i32.const 1))
    (if (i32.eqz (i32.and (local.get $i0) (i32.const 1))) (then (return (local.get $x0))))
    (f64.const 0)))
