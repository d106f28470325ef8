//! The public interface: error kinds, compiled-expression reuse, thread safety,
//! deep recursion, and the clock functions the corpus cannot pin to a value.

use osmosis_jsonata::{compile, evaluate, Expression, JsonataError};
use serde_json::json;

#[test]
fn expression_can_be_shared_between_threads() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Expression>();
    let expr = std::sync::Arc::new(compile("$sum(xs)").expect("compiles"));
    let handles: Vec<_> = (1..=4)
        .map(|n| {
            let expr = expr.clone();
            std::thread::spawn(move || expr.evaluate(&json!({"xs": [n, n]})))
        })
        .collect();
    let sums: Vec<_> = handles
        .into_iter()
        .map(|h| h.join().expect("thread").expect("evaluates"))
        .collect();
    assert_eq!(
        sums,
        vec![
            Some(json!(2)),
            Some(json!(4)),
            Some(json!(6)),
            Some(json!(8))
        ]
    );
}

#[test]
fn compiled_expression_is_reusable() {
    let expr = compile("items[price > 10].name").expect("compiles");
    let a = json!({"items": [{"name": "a", "price": 5}, {"name": "b", "price": 20}]});
    let b = json!({"items": [{"name": "c", "price": 50}, {"name": "d", "price": 60}]});
    assert_eq!(expr.evaluate(&a).unwrap(), Some(json!("b")));
    assert_eq!(expr.evaluate(&b).unwrap(), Some(json!(["c", "d"])));
    assert_eq!(expr.evaluate(&json!({})).unwrap(), None);
}

#[test]
fn error_kinds() {
    assert!(matches!(
        compile("(1"),
        Err(JsonataError::Compile { code: "S0203", .. })
    ));
    assert!(matches!(
        evaluate("\"a\" + 1", &json!({})),
        Err(JsonataError::Evaluate { code: "T2001", .. })
    ));
    let custom_matcher =
        "$split(\"a b\", function($s) { {\"match\": \" \", \"start\": 1, \"end\": 2, \"groups\": []} })";
    match evaluate(custom_matcher, &json!({})) {
        Err(JsonataError::Unsupported { feature }) => assert!(feature.contains("matcher")),
        other => panic!("expected Unsupported, got {other:?}"),
    }
}

#[test]
fn whole_numbers_are_json_integers() {
    let v = evaluate("$sum([1.5, 1.5])", &json!({})).unwrap().unwrap();
    assert_eq!(serde_json::to_string(&v).unwrap(), "3");
    let v = evaluate("0.1 + 0.2", &json!({})).unwrap().unwrap();
    assert_eq!(serde_json::to_string(&v).unwrap(), "0.30000000000000004");
}

#[test]
fn tail_calls_do_not_grow_the_stack() {
    let e = "($loop := function($n, $acc) { $n = 0 ? $acc : $loop($n - 1, $acc + 1) }; $loop(100000, 0))";
    assert_eq!(evaluate(e, &json!({})).unwrap(), Some(json!(100000)));
}

#[test]
fn deep_recursion_fails_cleanly_even_on_a_small_stack() {
    // jsonata throws RangeError here; the process must survive it too.
    let e = "($f := function($n) { $n = 0 ? 0 : 1 + $f($n - 1) }; $f(100000))";
    let r = std::thread::Builder::new()
        .stack_size(256 * 1024)
        .spawn(move || evaluate(e, &json!({})))
        .expect("spawn")
        .join()
        .expect("no stack overflow");
    assert!(matches!(
        r,
        Err(JsonataError::Evaluate {
            code: "RangeError",
            ..
        })
    ));
    let shallow = "($f := function($n) { $n = 0 ? 0 : 1 + $f($n - 1) }; $f(300))";
    assert_eq!(evaluate(shallow, &json!({})).unwrap(), Some(json!(300)));
}

#[test]
fn clock_functions_have_the_right_shape() {
    let before = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as f64;
    let v = evaluate(
        "{\"now\": $now(), \"millis\": $millis(), \"same\": $now() = $now()}",
        &json!({}),
    )
    .unwrap()
    .unwrap();
    let after = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as f64;
    let millis = v["millis"].as_f64().unwrap();
    assert!(millis >= before && millis <= after);
    let now = v["now"].as_str().unwrap();
    assert_eq!(now.len(), 24, "{now}");
    assert!(now.ends_with('Z') && &now[10..11] == "T", "{now}");
    // $now() is fixed for the whole evaluation, as in jsonata.
    assert_eq!(v["same"], json!(true));
    let round_trip = evaluate("$toMillis($now()) = $millis()", &json!({})).unwrap();
    assert_eq!(round_trip, Some(json!(true)));
}
