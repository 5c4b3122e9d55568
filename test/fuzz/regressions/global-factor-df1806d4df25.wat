;; fuzz-regression {"seed":1,"sig":{"params":[{"k":"scalar","ty":"f64","active":true}],"result":true,"single":false}}
;; reverse-fd: dL/dx0 (argument 0): reverse 5, finite differences 2 (h/4: 2, 4h: 2), relErr 0.6 (tolerance 0.000001)
;; Reverse mode used the mutable global's final value (5) where the kernel read 2 (fixed in 6dfeb5e):
;; k(x) = x * 2, so dk/dx = 2; ReverseWithPrimal gave 5 (ForwardWithPrimal 2).
(module
  (memory (export "memory") 1)
  (global $g (mut i32) (i32.const 0))
  (func (export "k") (param $x f64) (result f64)
    (local $r f64)
    (global.set $g (i32.const 2))
    (local.set $r (f64.mul (local.get $x) (f64.convert_i32_s (global.get $g))))
    (global.set $g (i32.const 5))
    (local.get $r)))
