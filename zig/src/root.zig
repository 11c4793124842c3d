//! C exports only. Every function here converts C pointers and lengths to
//! Zig slices, calls a feature module, and turns Zig errors into the
//! negative status codes of include/copilot_core.h. No logic lives here.

const std = @import("std");
const build_info = @import("build_info");
const rate_limit = @import("rate_limit.zig");

pub const abi_version: u32 = 1;

pub const Status = enum(i32) {
    invalid_argument = -1,
    out_of_memory = -2,
    buffer_too_small = -3,
    invalid_data = -4,
    too_large = -5,
};

threadlocal var last_error: [*:0]const u8 = "";

/// Records `message` as this thread's last error and returns `status`.
pub fn fail(status: Status, message: [*:0]const u8) i32 {
    last_error = message;
    return @intFromEnum(status);
}

pub export fn ch_abi_version() u32 {
    return abi_version;
}

pub export fn ch_source_digest() [*:0]const u8 {
    return build_info.source_digest;
}

pub export fn ch_package_version() [*:0]const u8 {
    return build_info.package_version;
}

pub export fn ch_last_error() [*:0]const u8 {
    return last_error;
}

pub export fn ch_rate_limit_decide(
    last_ms: i64,
    has_last: i32,
    now_ms: i64,
    interval_ms: i64,
    wait_mode: i32,
    out_delay_ms: ?*i64,
    out_new_last: ?*i64,
) i32 {
    const delay_out = out_delay_ms orelse return fail(.invalid_argument, "out_delay_ms is null");
    const last_out = out_new_last orelse return fail(.invalid_argument, "out_new_last is null");
    const last: ?i64 = if (has_last != 0) last_ms else null;
    const decision = rate_limit.decide(last, now_ms, interval_ms, wait_mode != 0);
    delay_out.* = decision.delay_ms;
    last_out.* = decision.new_last_ms;
    return @intFromEnum(decision.action);
}

// ---- header drift check -------------------------------------------------
// Compiled only in tests (needs libc headers for stdint.h): every ch_*
// function of the header must be exported here with the same C shape, and
// every ch_* export here must be declared in the header.

test "header and exports agree" {
    const c = @cImport(@cInclude("copilot_core.h"));
    @setEvalBranchQuota(200_000);
    const root = @This();
    try std.testing.expectEqual(@as(comptime_int, c.CH_ABI_VERSION), abi_version);
    inline for (@typeInfo(Status).@"enum".fields) |field| {
        const name = comptime blk: {
            var upper: [field.name.len]u8 = undefined;
            _ = std.ascii.upperString(&upper, field.name);
            break :blk "CH_E_" ++ upper;
        };
        try std.testing.expectEqual(@as(comptime_int, @field(c, name)), field.value);
    }
    comptime var header_count = 0;
    inline for (@typeInfo(c).@"struct".decls) |decl| {
        if (comptime std.mem.startsWith(u8, decl.name, "ch_") and
            @typeInfo(@TypeOf(@field(c, decl.name))) == .@"fn")
        {
            header_count += 1;
            if (!@hasDecl(root, decl.name)) {
                @compileError("declared in copilot_core.h but not exported: " ++ decl.name);
            }
            comptime checkSameShape(decl.name, @TypeOf(@field(c, decl.name)), @TypeOf(@field(root, decl.name)));
        }
    }
    comptime var export_count = 0;
    inline for (@typeInfo(root).@"struct".decls) |decl| {
        if (comptime std.mem.startsWith(u8, decl.name, "ch_")) {
            export_count += 1;
            if (!@hasDecl(c, decl.name)) {
                @compileError("exported but missing from copilot_core.h: " ++ decl.name);
            }
        }
    }
    try std.testing.expectEqual(header_count, export_count);
}

fn checkSameShape(comptime name: []const u8, comptime Header: type, comptime Export: type) void {
    const h = @typeInfo(Header).@"fn";
    const e = @typeInfo(Export).@"fn";
    if (h.params.len != e.params.len) @compileError(name ++ ": parameter count differs from the header");
    inline for (h.params, e.params, 0..) |hp, ep, i| {
        if (!sameCShape(hp.type.?, ep.type.?)) {
            @compileError(std.fmt.comptimePrint("{s}: parameter {d} is {s} in the header but {s} in Zig", .{ name, i, @typeName(hp.type.?), @typeName(ep.type.?) }));
        }
    }
    if (!sameCShape(h.return_type.?, e.return_type.?)) {
        @compileError(name ++ ": return type differs from the header: " ++ @typeName(h.return_type.?) ++ " vs " ++ @typeName(e.return_type.?));
    }
}

/// Two types have the same C shape when both are void, or integers of the
/// same size and signedness, or pointers whose pointees have the same shape
/// (opaque pointees match any opaque pointee).
fn sameCShape(comptime A: type, comptime B: type) bool {
    const a = @typeInfo(A);
    const b = @typeInfo(B);
    switch (a) {
        .void => return b == .void,
        .int => |ai| return b == .int and b.int.bits == ai.bits and b.int.signedness == ai.signedness,
        .pointer => |ap| {
            const bp = switch (b) {
                .pointer => |p| p,
                .optional => |o| switch (@typeInfo(o.child)) {
                    .pointer => |p| p,
                    else => return false,
                },
                else => return false,
            };
            if (ap.is_const != bp.is_const) return false;
            if (@typeInfo(ap.child) == .@"opaque" and @typeInfo(bp.child) == .@"opaque") return true;
            return sameCShape(ap.child, bp.child);
        },
        .@"opaque" => return b == .@"opaque",
        else => return false,
    }
}

test {
    std.testing.refAllDecls(rate_limit);
}
