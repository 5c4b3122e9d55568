;; Extended Rosenbrock: sum_{i<n-1} 100 (x[i+1] - x[i]^2)^2 + (1 - x[i])^2
(module
  (memory (export "memory") 1)
  (func (export "rosenbrock") (param $x i32) (param $n i32) (result f64)
    (local $i i32) (local $s f64) (local $a f64) (local $b f64) (local $p i32)
    (local.set $i (i32.const 0))
    (block $done
      (loop $next
        (br_if $done (i32.ge_s (local.get $i) (i32.sub (local.get $n) (i32.const 1))))
        (local.set $p (i32.add (local.get $x) (i32.shl (local.get $i) (i32.const 3))))
        (local.set $a (f64.load (local.get $p)))
        (local.set $b (f64.load offset=8 (local.get $p)))
        (local.set $s (f64.add (local.get $s)
          (f64.add
            (f64.mul (f64.const 100)
              (f64.mul (f64.sub (local.get $b) (f64.mul (local.get $a) (local.get $a)))
                       (f64.sub (local.get $b) (f64.mul (local.get $a) (local.get $a)))))
            (f64.mul (f64.sub (f64.const 1) (local.get $a)) (f64.sub (f64.const 1) (local.get $a))))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $next)))
    (local.get $s)))
