//! Runners of stored connections kept between calls. Building one means reading
//! the integration and connector, parsing the connector, opening the sealed
//! credentials and evaluating `makeApiClient`; the proxy is the hottest path of
//! the engine, so a connection's runner (with its API client and its external API
//! log observer) is built once and reused while nothing it was built from changed.
//!
//! An entry is valid for the connection revision it was built from (credentials
//! change the revision) and until an integration or connector changes
//! ([`crate::node_cache`]).

use std::sync::Arc;

use osmosis_connectors::function::FunctionRunner;
use osmosis_model::{ApiError, Element};

use super::api_logs::ConnectionObserver;
use super::Calls;
use crate::node_cache::NodeCache;

/// Built runners by connection id.
pub(crate) type RunnerCache = NodeCache<FunctionRunner>;

impl Calls<'_> {
    /// The runner of a stored connection, with its external API log observer.
    pub(crate) async fn live_runner(
        &self,
        conn: &Element,
    ) -> Result<Arc<FunctionRunner>, ApiError> {
        let derive = async {
            let runner = self.connection_runner(conn).await?;
            let connector = runner.connector().key.clone().unwrap_or_default();
            let observer = ConnectionObserver::new(self.api_logs, conn, &connector);
            Ok(runner.with_observer(Arc::new(observer)))
        };
        self.runners
            .get_or_derive(
                &conn.id,
                Some(&conn.revision),
                self.database.is_shared(),
                derive,
            )
            .await
    }
}
