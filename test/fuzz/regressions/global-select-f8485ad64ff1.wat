;; fuzz-regression {"seed":1,"sig":{"params":[{"k":"scalar","ty":"f64","active":true}],"result":true,"single":false}}
;; reverse-fd: dL/dx0 (argument 0): reverse 0, finite differences 1 (h/4: 1, 4h: 1), relErr 1 (tolerance 0.000001)
;; Reverse mode re-evaluated the select's condition on the mutable global's final value (1) (fixed in 6dfeb5e):
;; k(x) = x (the global is 0 when read), so dk/dx = 1; ReverseWithPrimal gave 0 (ForwardWithPrimal 1).
;; Found by the fuzzer (a loop counting iterations in $g, select on its parity), reduced by hand.
(module
  (memory (export "memory") 1)
  (global $g (mut i32) (i32.const 0))
  (func (export "k") (param $x f64) (result f64)
    (local $r f64)
    (global.set $g (i32.const 0))
    (local.set $r (select (local.get $x) (f64.const 0.5) (i32.eqz (global.get $g))))
    (global.set $g (i32.const 1))
    (local.get $r)))
