//! The integration tests of the `osmosis` crate, as one test binary: each file of
//! this directory is a module (`calls`, `faults_kill`, …), `common` is the harness they
//! share (a server in-process, or the real `osmosis` binary as a child process) and
//! `faults` what the fault tests share. One binary instead of one per file: the
//! workspace is linked into a test binary once, not twenty times, after every change.
//! nextest still runs each test in its own process, so tests that kill servers or
//! start their own PostgreSQL stay apart; `.config/nextest.toml` picks tests by their
//! module (`test(/^faults_slow_clients::/)`).

mod actions;
mod app_data_schemas;
mod app_events;
mod archived_paths;
mod auth;
mod calls;
mod catalog_everywhere;
mod cli;
mod cli_config;
mod cli_flags;
mod cli_start;
mod cli_token;
mod cli_workspace;
mod common;
mod config_export;
mod config_import;
mod connect_flow;
mod connect_kill;
mod connection_tenancy;
mod connections;
mod connector_sources;
mod console;
mod console_actions_flows;
mod console_connections;
mod console_integrations;
mod console_runs_events;
mod credentials;
mod customer_errors;
mod data_links;
mod data_sources;
mod deadlines;
mod demo_app;
mod elements;
mod embed_pages;
mod events_burst;
mod events_kill;
mod external_events;
mod external_events_kill;
mod external_global_webhooks;
mod external_webhooks;
mod faults;
mod faults_kill;
mod faults_postgres;
mod faults_slow_clients;
mod faults_sqlite;
mod flow_error_stack;
mod flow_instances;
mod flow_kill;
mod flow_limits;
mod flow_nodes;
mod flow_runs_api;
mod flow_schedules;
mod flows;
mod instances;
mod legacy_cli_routes;
mod limits;
mod metrics;
mod mock_crm_check;
mod multinode;
mod openapi_routes;
mod outbound_guard;
mod package_versions;
mod public_packages;
mod request_logs;
mod rotation;
mod run_log_traces;
mod seeds;
mod server_limits;
mod shipped_events;
mod shipped_webhooks;
mod unified_mappings;
mod workspace_events;
