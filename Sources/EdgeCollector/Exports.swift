// The request decoding the edge is built on is part of its public face: callers of `EdgeCollector`
// (the CLI, the tests, the benchmarks) name `QueryParameters`, `RequestLimits` and `DropReason` directly.
@_exported import TrackingInput
