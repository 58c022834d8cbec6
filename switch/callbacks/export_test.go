package callbacks

// Classify is classify, for the external tests.
var Classify = classify

// ErrNotPublic is errNotPublic, for the external tests.
var ErrNotPublic = errNotPublic
