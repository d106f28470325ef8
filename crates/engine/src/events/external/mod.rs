//! External event subscriptions (semantics §5.6): one per (connection, data source
//! or connector event, event type), made while an enabled flow instance needs it.
