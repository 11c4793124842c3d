//! The rate limiter's decision as a pure function of (state, now, interval),
//! so that `copilot-hybrid verify rate_limit` can compare it exactly with the
//! Python reference (copilot_hybrid/rate_limit.py).

const std = @import("std");

pub const Action = enum(i32) { allow = 0, wait = 1, reject = 2 };

pub const Decision = struct {
    action: Action,
    /// How long to wait (wait) or until a retry can pass (reject); 0 on allow.
    delay_ms: i64,
    /// The limiter state to store after this decision.
    new_last_ms: i64,
};

/// `last_ms` is the last granted slot, or null before the first request.
/// In wait mode the granted slot lies in the future, so queued callers are
/// spaced one interval apart instead of all waking together.
pub fn decide(last_ms: ?i64, now_ms: i64, interval_ms: i64, wait_mode: bool) Decision {
    const last = last_ms orelse return allowAt(now_ms);
    if (interval_ms <= 0) return allowAt(now_ms);
    const next_ms = std.math.add(i64, last, interval_ms) catch std.math.maxInt(i64);
    if (now_ms >= next_ms) return allowAt(now_ms);
    // now_ms < next_ms, so the difference is positive; it can still exceed
    // the i64 range when now_ms is very negative, hence the saturation.
    const delay_ms = std.math.sub(i64, next_ms, now_ms) catch std.math.maxInt(i64);
    if (wait_mode) return .{ .action = .wait, .delay_ms = delay_ms, .new_last_ms = next_ms };
    return .{ .action = .reject, .delay_ms = delay_ms, .new_last_ms = last };
}

fn allowAt(now_ms: i64) Decision {
    return .{ .action = .allow, .delay_ms = 0, .new_last_ms = now_ms };
}

const testing = std.testing;

test "first request and zero interval pass" {
    try testing.expectEqual(Action.allow, decide(null, 5, 1000, false).action);
    try testing.expectEqual(Action.allow, decide(5, 5, 0, false).action);
    try testing.expectEqual(Action.allow, decide(5, 5, -3, false).action);
}

test "equal timestamps are limited, the gap passes" {
    const d = decide(1000, 1000, 1000, false);
    try testing.expectEqual(Action.reject, d.action);
    try testing.expectEqual(@as(i64, 1000), d.delay_ms);
    try testing.expectEqual(@as(i64, 1000), d.new_last_ms);
    try testing.expectEqual(Action.allow, decide(1000, 2000, 1000, false).action);
}

test "wait mode queues callers one interval apart" {
    const first = decide(0, 10, 1000, true);
    try testing.expectEqual(Action.wait, first.action);
    try testing.expectEqual(@as(i64, 990), first.delay_ms);
    const second = decide(first.new_last_ms, 10, 1000, true);
    try testing.expectEqual(@as(i64, 1990), second.delay_ms);
}

test "extremes saturate instead of overflowing" {
    const max = std.math.maxInt(i64);
    const min = std.math.minInt(i64);
    const d = decide(max, min, max, false);
    try testing.expectEqual(Action.reject, d.action);
    try testing.expectEqual(@as(i64, max), d.delay_ms);
    try testing.expectEqual(Action.allow, decide(min, max, max, false).action);
}
