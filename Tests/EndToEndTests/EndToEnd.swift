import Testing

/// Every end-to-end suite runs the real `fusion-serve` binary; they run one at a time so their
/// timings (slow clients, kills, drains) do not fight over the two CPUs.
@Suite(.serialized) struct EndToEnd {}
