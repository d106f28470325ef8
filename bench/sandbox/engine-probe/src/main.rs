//! Probe: cold start (new engine + context + module eval + call of a trivial async default export)
//! and a warm call (call the already evaluated function again), for Boa and QuickJS.
use std::time::Instant;

const SRC: &str = "export default async function({ input }) { return { doubled: input.n * 2 }; }";

fn quickjs_cold() -> f64 {
    use rquickjs::{Context, Module, Runtime, Function, Promise, Object};
    let rt = Runtime::new().unwrap();
    let ctx = Context::full(&rt).unwrap();
    ctx.with(|ctx| {
        let m = Module::declare(ctx.clone(), "user.js", SRC).unwrap();
        let (m, p) = m.eval().unwrap();
        p.finish::<()>().unwrap();
        let f: Function = m.get("default").unwrap();
        let arg = ctx.json_parse(r#"{"input":{"n":21}}"#).unwrap();
        let p: Promise = f.call((arg,)).unwrap();
        let v: Object = p.finish().unwrap();
        v.get::<_, f64>("doubled").unwrap()
    })
}

fn quickjs_warm(n: usize) -> (f64, f64) {
    use rquickjs::{Context, Module, Runtime, Function, Promise, Object};
    let rt = Runtime::new().unwrap();
    let ctx = Context::full(&rt).unwrap();
    ctx.with(|ctx| {
        let m = Module::declare(ctx.clone(), "user.js", SRC).unwrap();
        let (m, p) = m.eval().unwrap();
        p.finish::<()>().unwrap();
        let f: Function = m.get("default").unwrap();
        let t = Instant::now();
        let mut last = 0.0;
        for _ in 0..n {
            let arg = ctx.json_parse(r#"{"input":{"n":21}}"#).unwrap();
            let p: Promise = f.call((arg,)).unwrap();
            let v: Object = p.finish().unwrap();
            last = v.get::<_, f64>("doubled").unwrap();
        }
        (t.elapsed().as_secs_f64() / n as f64, last)
    })
}

fn boa_cold() -> f64 {
    use boa_engine::{Context, Module, Source, JsValue, js_string, builtins::promise::PromiseState};
    let mut ctx = Context::default();
    let m = Module::parse(Source::from_bytes(SRC), None, &mut ctx).unwrap();
    let p = m.load_link_evaluate(&mut ctx);
    ctx.run_jobs().unwrap();
    assert!(matches!(p.state(), PromiseState::Fulfilled(_)));
    let f = m.namespace(&mut ctx).get(js_string!("default"), &mut ctx).unwrap();
    let arg = JsValue::from_json(&serde_json::json!({"input":{"n":21}}), &mut ctx).unwrap();
    let r = f.as_callable().unwrap().call(&JsValue::undefined(), &[arg], &mut ctx).unwrap();
    ctx.run_jobs().unwrap();
    let p = r.as_promise().unwrap();
    match p.state() {
        PromiseState::Fulfilled(v) => v.as_object().unwrap().get(js_string!("doubled"), &mut ctx).unwrap().as_number().unwrap(),
        s => panic!("{s:?}"),
    }
}

fn boa_warm(n: usize) -> f64 {
    use boa_engine::{Context, Module, Source, JsValue, js_string, builtins::promise::PromiseState};
    let mut ctx = Context::default();
    let m = Module::parse(Source::from_bytes(SRC), None, &mut ctx).unwrap();
    let _p = m.load_link_evaluate(&mut ctx);
    ctx.run_jobs().unwrap();
    let f = m.namespace(&mut ctx).get(js_string!("default"), &mut ctx).unwrap();
    let t = Instant::now();
    for _ in 0..n {
        let arg = JsValue::from_json(&serde_json::json!({"input":{"n":21}}), &mut ctx).unwrap();
        let r = f.as_callable().unwrap().call(&JsValue::undefined(), &[arg], &mut ctx).unwrap();
        ctx.run_jobs().unwrap();
        match r.as_promise().unwrap().state() {
            PromiseState::Fulfilled(v) => assert_eq!(v.as_object().unwrap().get(js_string!("doubled"), &mut ctx).unwrap().as_number(), Some(42.0)),
            s => panic!("{s:?}"),
        }
    }
    t.elapsed().as_secs_f64() / n as f64
}

fn time<F: FnMut() -> f64>(name: &str, n: usize, mut f: F) {
    for _ in 0..10 { f(); }
    let t = Instant::now();
    for _ in 0..n { assert_eq!(f(), 42.0); }
    println!("{name}: {:.1} us/iter", t.elapsed().as_secs_f64() * 1e6 / n as f64);
}

fn main() {
    time("quickjs cold", 500, quickjs_cold);
    let (w, _) = quickjs_warm(20000);
    println!("quickjs warm: {:.2} us/call", w * 1e6);
    time("boa cold", 100, boa_cold);
    println!("boa warm: {:.2} us/call", boa_warm(5000) * 1e6);
}
