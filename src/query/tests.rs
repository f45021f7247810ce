//! In-process query cases (filled below).
