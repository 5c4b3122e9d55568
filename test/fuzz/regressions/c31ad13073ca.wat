;; fuzz-regression {"seed":0,"sig":{"params":[{"k":"scalar","ty":"f64","active":true},{"k":"buf","ty":"f64","len":4},{"k":"int","value":0},{"k":"ints","values":[0,0,0,0]}],"result":true,"single":false},"fcSeed":20261128,"fcPath":"5:0:0:0:0:0:0:0:0:0:0:0:0:0:0:0:0:0:0:0:37:37:36:36:36:36:36:36:37:36:36","minimized":true,"size":"small"}
;; reverse-fd: dL/dx0 (argument 0): reverse 1, finite differences 0 (h/4: 0, 4h: 0), relErr 1 (tolerance 0.000001)
(module
  (memory (export "memory") 1)
  (data (i32.const 0) "\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00")
  (global $g (mut i32) (i32.const 0))
  (func (export "k") (param $x0 f64) (param $p0 i32) (param $n i32) (param $ix i32) (result f64)
    (local $t0 f64) (local $i0 i32) (local $i1 i32) (local $i2 i32) (local $sq f64) (local $q f64)
    (global.set $g (i32.const 0))
    (local.set $i0 (i32.const 0))
    (block $b0
      (loop $l0
        (br_if $b0 (i32.ge_s (local.get $i0) (i32.const 1)))

        (local.set $i0 (i32.add (local.get $i0) (i32.const 1)))
        (global.set $g (i32.add (global.get $g) (i32.const 1)))
        (br $l0)))
    (if (i32.eqz (i32.and (local.get $i0) (i32.const 1))) (then (return (local.get $x0))))
    (f64.const 0.5)
  )
)
