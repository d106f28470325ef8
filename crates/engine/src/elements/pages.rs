//! Every element a query matches, read a page at a time: the one loop behind the
//! engine's own sweeps (an export, a connection's flow instances, the instances
//! a flow change reaches, a key rotation), which must see every element however
//! many there are, without holding one long read open.

use futures::Stream;
use osmosis_model::{ApiError, Element};
use osmosis_store::{ElementQuery, ElementStore};

use crate::errors::store_error;

/// The pages of `q`: `q.limit` elements each in creation order (from
/// `q.after_seq`), until a page comes back short. Positions only grow, so no
/// element that existed when the sweep began is skipped or seen twice.
pub(crate) fn element_pages(
    store: &dyn ElementStore,
    q: ElementQuery,
) -> impl Stream<Item = Result<Vec<Element>, ApiError>> + Send + '_ {
    futures::stream::try_unfold(Some(q), move |next| async move {
        let Some(mut q) = next else {
            return Ok(None);
        };
        let page = store.find_elements(&q).await.map_err(store_error)?;
        if page.is_empty() {
            return Ok(None);
        }
        let more = match page.last() {
            Some(last) if page.len() as i64 >= q.limit => {
                q.after_seq = last.seq;
                Some(q)
            }
            _ => None,
        };
        Ok(Some((page, more)))
    })
}
