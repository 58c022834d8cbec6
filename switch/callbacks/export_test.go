package callbacks

// Classify is classify, for the external tests.
var Classify = classify
