//! Unit tests of the parallel functions.
