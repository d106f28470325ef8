//! Console pages: see the module doc of each test below.
