//! Schedule triggers (docs/spec/semantics.md §4.3): a `flow-schedule` job per
//! enabled instance and trigger, firing runs launched by `schedule-trigger`.
//!
//! The test server runs no job worker: each test drives the jobs itself with
//! `run_due_jobs`, after making a job due by moving its `run_at` through the job
//! store, so no test waits for a tick.

use osmosis_store::{Job, Lease};
use serde_json::{json, Value};

use crate::common::mock_crm::crm_fixture;
use crate::common::Server;

const MINUTE_MS: i64 = 60_000;

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

/// Every pending job, claimed and put back unchanged (as a probe).
async fn pending_jobs(s: &Server) -> Vec<Job> {
    let far = now_ms() + 100 * 365 * 24 * 60 * MINUTE_MS;
    let jobs = s
        .stores
        .jobs
        .claim_jobs(
            "probe",
            Lease {
                now_ms: far,
                duration_ms: 1,
            },
            1000,
        )
        .await
        .unwrap();
    for job in &jobs {
        s.stores
            .jobs
            .retry_job(job, "probe", job.run_at, "probe")
            .await
            .unwrap();
    }
    jobs
}

/// The pending `flow-schedule` job of node `node` of instance `instance`.
async fn schedule_job(s: &Server, instance: &str, node: &str) -> Option<Job> {
    pending_jobs(s)
        .await
        .into_iter()
        .find(|j| j.kind == "flow-schedule" && j.dedupe_key == format!("{instance}/{node}"))
}

/// Moves the pending schedule job of `instance`/`node` to `run_at`.
async fn move_job(s: &Server, instance: &str, node: &str, run_at: i64) {
    let far = now_ms() + 100 * 365 * 24 * 60 * MINUTE_MS;
    let jobs = s
        .stores
        .jobs
        .claim_jobs(
            "probe",
            Lease {
                now_ms: far,
                duration_ms: 1,
            },
            1000,
        )
        .await
        .unwrap();
    let key = format!("{instance}/{node}");
    assert!(
        jobs.iter().any(|j| j.dedupe_key == key),
        "no pending job {key}"
    );
    for job in &jobs {
        let at = if job.dedupe_key == key {
            run_at
        } else {
            job.run_at
        };
        s.stores
            .jobs
            .retry_job(job, "probe", at, "probe")
            .await
            .unwrap();
    }
}

/// The runs of instance `id`, newest first (admin view).
async fn runs_of(s: &Server, id: &str) -> Vec<Value> {
    let (status, page) = s
        .get(&format!("/flow-runs?connectionFlowId={id}"), &s.admin())
        .await;
    assert_eq!(status, 200, "{page}");
    page["items"].as_array().unwrap().clone()
}

/// An integration-level flow `key` whose schedule trigger `tick` has `config`.
async fn scheduled_flow(s: &Server, integration_id: &str, key: &str, config: Value) -> Value {
    s.create(
        "flows",
        json!({"key": key, "integrationId": integration_id, "nodes": {
            "tick": {"type": "schedule-trigger", "config": config, "links": [{"key": "out"}]},
            "out": {"type": "transform-data", "config": {"output": {"at": {"$var": "$.input.tick.triggeredAt"}}}}
        }}),
    )
    .await
}

/// Alice's instance of flow `key`, made on demand.
async fn instance(s: &Server, conn: &str, token: &str, key: &str) -> String {
    let (status, inst) = s
        .get(
            &format!("/connections/{conn}/flows/{key}?autoCreate=true"),
            token,
        )
        .await;
    assert_eq!(status, 200, "{inst}");
    assert_eq!(inst["enabled"], true, "instances are enabled by default");
    inst["id"].as_str().unwrap().to_owned()
}

/// Makes the schedule job of `id`/`tick` due now and runs the due jobs.
async fn tick_now(s: &Server, id: &str) -> usize {
    move_job(s, id, "tick", now_ms() - 1).await;
    s.engine.run_due_jobs("test-worker").await
}

#[tokio::test]
async fn an_enabled_instance_fires_and_a_disabled_one_stops() {
    let s = Server::start().await;
    let f = crm_fixture(&s, 1).await;
    scheduled_flow(
        &s,
        &f.integration_id,
        "hourly",
        json!({"intervalMinutes": 60}),
    )
    .await;
    let before = now_ms();
    let id = instance(&s, &f.alice_conn, &f.alice, "hourly").await;
    // Scheduled an interval from now, not before.
    let job = schedule_job(&s, &id, "tick").await.expect("a schedule job");
    assert!(job.run_at >= before + 60 * MINUTE_MS, "{job:?}");
    assert!(job.run_at <= now_ms() + 60 * MINUTE_MS, "{job:?}");
    assert!(runs_of(&s, &id).await.is_empty());
    // A tick starts one run, launched by the schedule trigger.
    assert_eq!(tick_now(&s, &id).await, 1);
    let runs = runs_of(&s, &id).await;
    assert_eq!(runs.len(), 1, "{runs:?}");
    let run = &runs[0];
    assert_eq!(
        run["launchedBy"],
        json!({"type": "schedule-trigger", "ids": [id]})
    );
    assert_eq!(run["startNodeKey"], "tick");
    assert!(run["input"]["triggeredAt"].is_string(), "{run}");
    let (_, done) = s
        .get(
            &format!("/flow-runs/{}?wait=20", run["id"].as_str().unwrap()),
            &f.alice,
        )
        .await;
    assert_eq!(done["state"], "completed", "{done}");
    assert_eq!(done["userId"], run["userId"]);
    // And the next tick is an interval later.
    let next = schedule_job(&s, &id, "tick").await.expect("rescheduled");
    assert!(next.run_at > now_ms() + 59 * MINUTE_MS, "{next:?}");
    // Disabled: the job stops without a run.
    let (status, off) = s
        .patch(
            &format!("/flow-instances/{id}"),
            &f.alice,
            json!({"enabled": false}),
        )
        .await;
    assert_eq!(status, 200, "{off}");
    s.engine.run_due_jobs("test-worker").await;
    assert!(schedule_job(&s, &id, "tick").await.is_none());
    assert_eq!(runs_of(&s, &id).await.len(), 1);
    // Enabled again: scheduled again, from now.
    let (status, _) = s
        .patch(
            &format!("/flow-instances/{id}"),
            &f.alice,
            json!({"enabled": true}),
        )
        .await;
    assert_eq!(status, 200);
    let again = schedule_job(&s, &id, "tick")
        .await
        .expect("scheduled again");
    assert!(again.run_at > now_ms() + 59 * MINUTE_MS, "{again:?}");
    // Archived: no more ticks.
    let (status, _) = s
        .call(
            "DELETE",
            &format!("/flow-instances/{id}"),
            Some(&f.alice),
            None,
        )
        .await;
    assert_eq!(status, 200);
    s.engine.run_due_jobs("test-worker").await;
    assert!(schedule_job(&s, &id, "tick").await.is_none());
    assert_eq!(runs_of(&s, &id).await.len(), 1);
    s.finish().await;
}

#[tokio::test]
async fn after_a_long_gap_one_catch_up_run_then_the_normal_cadence() {
    let s = Server::start().await;
    let f = crm_fixture(&s, 1).await;
    scheduled_flow(
        &s,
        &f.integration_id,
        "often",
        json!({"intervalMinutes": 5}),
    )
    .await;
    let id = instance(&s, &f.alice_conn, &f.alice, "often").await;
    // The server was down for ten hours: 120 ticks were missed.
    move_job(&s, &id, "tick", now_ms() - 10 * 60 * MINUTE_MS).await;
    // Two workers look at once: one of them runs it, once.
    let (a, b) = tokio::join!(
        s.engine.run_due_jobs("worker-a"),
        s.engine.run_due_jobs("worker-b")
    );
    assert_eq!(a + b, 1);
    assert_eq!(runs_of(&s, &id).await.len(), 1);
    let next = schedule_job(&s, &id, "tick").await.expect("rescheduled");
    assert!(next.run_at > now_ms() + 4 * MINUTE_MS, "from now: {next:?}");
    assert_eq!(s.engine.run_due_jobs("worker-a").await, 0);
    assert_eq!(runs_of(&s, &id).await.len(), 1);
    s.finish().await;
}

#[tokio::test]
async fn a_bad_schedule_is_a_configuration_error_and_schedules_nothing() {
    let s = Server::start().await;
    let f = crm_fixture(&s, 1).await;
    let mut flow_ids = Vec::new();
    for (key, config) in [
        ("bad-cron", json!({"cron": "every monday"})),
        (
            "bad-zone",
            json!({"cron": "0 9 * * *", "timezone": "Nowhere/Land"}),
        ),
        ("bad-interval", json!({"intervalMinutes": 0})),
        ("no-schedule", json!({})),
    ] {
        let flow = scheduled_flow(&s, &f.integration_id, key, config).await;
        assert_eq!(flow["state"], "CONFIGURATION_ERROR", "{flow}");
        assert_eq!(flow["errors"][0]["data"]["nodeKey"], "tick", "{flow}");
        flow_ids.push(flow["id"].as_str().unwrap().to_owned());
        let id = instance(&s, &f.alice_conn, &f.alice, key).await;
        assert!(schedule_job(&s, &id, "tick").await.is_none(), "{key}");
    }
    // Fixed on the flow: the instance that follows it is scheduled.
    let flow_id = &flow_ids[0];
    let (status, fixed) = s
        .patch(
            &format!("/flows/{flow_id}"),
            &s.admin(),
            json!({"nodes": {
                "tick": {"type": "schedule-trigger", "config": {"cron": "0 9 * * MON", "timezone": "Europe/Berlin"}, "links": [{"key": "out"}]},
                "out": {"type": "transform-data"}
            }}),
        )
        .await;
    assert_eq!(status, 200, "{fixed}");
    assert_eq!(fixed["state"], "READY", "{fixed}");
    let (_, inst) = s
        .get(
            &format!("/connections/{}/flows/bad-cron", f.alice_conn),
            &f.alice,
        )
        .await;
    let job = schedule_job(&s, inst["id"].as_str().unwrap(), "tick")
        .await
        .expect("scheduled once the cron is valid");
    assert!(job.run_at > now_ms(), "{job:?}");
    s.finish().await;
}

#[tokio::test]
async fn the_schedule_stops_when_its_flow_loses_the_trigger_or_its_connection_goes_until_restored()
{
    let s = Server::start().await;
    let f = crm_fixture(&s, 1).await;
    let flow = scheduled_flow(
        &s,
        &f.integration_id,
        "daily",
        json!({"intervalMinutes": 1440}),
    )
    .await;
    let alice = instance(&s, &f.alice_conn, &f.alice, "daily").await;
    let bob = instance(&s, &f.bob_conn, &f.bob, "daily").await;
    assert!(schedule_job(&s, &bob, "tick").await.is_some());
    // Bob's connection is archived: his next tick starts nothing and ends it.
    let (status, _) = s
        .call(
            "DELETE",
            &format!("/connections/{}", f.bob_conn),
            Some(&f.bob),
            None,
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(tick_now(&s, &bob).await, 1);
    assert!(runs_of(&s, &bob).await.is_empty());
    assert!(schedule_job(&s, &bob, "tick").await.is_none());
    // Restored, it has its schedule again (set up in the background).
    let (status, restored) = s
        .post(
            &format!("/connections/{}/restore", f.bob_conn),
            &f.bob,
            json!({}),
        )
        .await;
    assert_eq!(status, 200, "{restored}");
    let mut again = None;
    for _ in 0..100 {
        again = schedule_job(&s, &bob, "tick").await;
        if again.is_some() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let again = again.expect("the restored connection's instance is scheduled again");
    assert!(again.run_at > now_ms(), "at its next tick: {again:?}");
    // The flow loses its schedule trigger: Alice's schedule ends without a run,
    // even at a tick that was due.
    let (status, _) = s
        .patch(
            &format!("/flows/{}", flow["id"].as_str().unwrap()),
            &s.admin(),
            json!({"nodes": {"start": {"type": "api-trigger"}}}),
        )
        .await;
    assert_eq!(status, 200);
    s.engine.run_due_jobs("test-worker").await;
    assert!(schedule_job(&s, &alice, "tick").await.is_none());
    assert!(runs_of(&s, &alice).await.is_empty());
    s.finish().await;
}

#[tokio::test]
async fn setup_reschedules_an_enabled_instance() {
    let s = Server::start().await;
    let f = crm_fixture(&s, 1).await;
    scheduled_flow(
        &s,
        &f.integration_id,
        "cron",
        json!({"cron": "*/10 * * * *"}),
    )
    .await;
    let id = instance(&s, &f.alice_conn, &f.alice, "cron").await;
    let first = schedule_job(&s, &id, "tick").await.expect("scheduled");
    assert!(first.run_at <= now_ms() + 10 * MINUTE_MS, "{first:?}");
    assert_eq!(
        first.run_at % (10 * MINUTE_MS),
        0,
        "on a cron tick: {first:?}"
    );
    // A lost job comes back with setup().
    move_job(&s, &id, "tick", now_ms() + 365 * 24 * 60 * MINUTE_MS).await;
    let (status, setup) = s
        .post(&format!("/flow-instances/{id}/setup"), &f.alice, json!({}))
        .await;
    assert_eq!(status, 200, "{setup}");
    let again = schedule_job(&s, &id, "tick").await.expect("scheduled");
    assert!(again.run_at <= now_ms() + 10 * MINUTE_MS, "{again:?}");
    s.finish().await;
}
