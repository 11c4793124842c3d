//! C exports only. Every function here converts C pointers and lengths to
//! Zig slices, calls a feature module, and turns Zig errors into the
//! negative status codes of include/copilot_core.h. No logic lives here.

const std = @import("std");
const build_info = @import("build_info");
const rate_limit = @import("rate_limit.zig");

/// Must equal the header's CH_ABI_VERSION (checked by the test below); Python
/// reads the header's value, so this is the one copy outside it.
pub const abi_version: u32 = 1;

pub const Status = enum(i32) {
    invalid_argument = -1,
    out_of_memory = -2,
    buffer_too_small = -3,
    invalid_data = -4,
    too_large = -5,
    unsupported = -6,
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

// ---- tokenizer -------------------------------------------------------------

const bpe = @import("bpe.zig");
const vocab = @import("vocab.zig");
const pretokenize = @import("pretokenize.zig");

/// What C sees as `ch_tokenizer`: a `bpe.Tokenizer` behind an opaque pointer.
pub const TokHandle = opaque {};

/// Tables and scratch come from the thread-safe allocator (no libc).
const tok_gpa = std.heap.smp_allocator;

threadlocal var tok_message: [256:0]u8 = @splat(0);

/// Like `fail`, with a formatted message kept in a thread-local buffer.
fn failFmt(status: Status, comptime fmt: []const u8, args: anytype) i32 {
    const msg = std.fmt.bufPrintZ(&tok_message, fmt, args) catch blk: {
        tok_message[tok_message.len - 1] = 0;
        break :blk tok_message[0 .. tok_message.len - 1 :0];
    };
    return fail(status, msg.ptr);
}

/// The header's CH_TOK_* kind as an encoding (the test below keeps the values equal).
fn tokEncoding(kind: u32) ?pretokenize.Encoding {
    return std.meta.intToEnum(pretokenize.Encoding, kind) catch null;
}

fn tokSelf(tok: ?*const TokHandle) ?*const bpe.Tokenizer {
    return @ptrCast(@alignCast(tok orelse return null));
}

/// C pointer + length -> slice; null when the pair is not valid.
fn tokBytes(ptr: ?[*]const u8, len: usize) ?[]const u8 {
    if (len == 0) return &.{};
    return (ptr orelse return null)[0..len];
}

fn tokRunError(err: bpe.Error) i32 {
    return switch (err) {
        error.OutOfMemory => fail(.out_of_memory, "out of memory"),
        error.BufferTooSmall => fail(.buffer_too_small, "output buffer too small"),
        error.InvalidPiece => fail(.invalid_data, "pre-tokenizer returned an invalid piece end"),
    };
}

pub export fn ch_tok_new(kind: u32, ranks: ?[*]const u8, ranks_len: usize, out: ?*?*TokHandle) i32 {
    const out_ptr = out orelse return fail(.invalid_argument, "out is null");
    out_ptr.* = null;
    const encoding = tokEncoding(kind) orelse return failFmt(.invalid_argument, "unknown tokenizer kind {d}", .{kind});
    const data = tokBytes(ranks, ranks_len) orelse return fail(.invalid_argument, "ranks is null");
    var diag: vocab.Diagnostic = .{};
    const tok = bpe.Tokenizer.init(tok_gpa, encoding, data, &diag) catch |err| return switch (err) {
        error.OutOfMemory => fail(.out_of_memory, "out of memory"),
        error.TooLarge => fail(.too_large, "rank file larger than 4 GiB"),
        error.InvalidData => failFmt(.invalid_data, "{s}", .{diag.message()}),
    };
    out_ptr.* = @ptrCast(tok);
    return 0;
}

pub export fn ch_tok_free(tok: ?*TokHandle) void {
    const self: *bpe.Tokenizer = @ptrCast(@alignCast(tok orelse return));
    self.deinit();
}

pub export fn ch_tok_count(tok: ?*const TokHandle, text: ?[*]const u8, len: usize) i64 {
    const self = tokSelf(tok) orelse return fail(.invalid_argument, "tokenizer is null");
    if (len > std.math.maxInt(u32)) return fail(.too_large, "text longer than 4 GiB");
    const t = tokBytes(text, len) orelse return fail(.invalid_argument, "text is null");
    const n = self.count(t) catch |err| return tokRunError(err);
    return @intCast(n);
}

pub export fn ch_tok_encode(tok: ?*const TokHandle, text: ?[*]const u8, len: usize, out: ?[*]u32, cap: usize) i64 {
    const self = tokSelf(tok) orelse return fail(.invalid_argument, "tokenizer is null");
    if (len > std.math.maxInt(u32)) return fail(.too_large, "text longer than 4 GiB");
    const t = tokBytes(text, len) orelse return fail(.invalid_argument, "text is null");
    const ids: []u32 = if (cap == 0) &.{} else (out orelse return fail(.invalid_argument, "out is null"))[0..cap];
    const n = self.encode(t, ids) catch |err| return tokRunError(err);
    return @intCast(n);
}

pub export fn ch_tok_decode(tok: ?*const TokHandle, tokens: ?[*]const u32, n: usize, out: ?[*]u8, cap: usize) i64 {
    const self = tokSelf(tok) orelse return fail(.invalid_argument, "tokenizer is null");
    if (n > std.math.maxInt(u32)) return fail(.too_large, "more than 2^32 tokens");
    const ids: []const u32 = if (n == 0) &.{} else (tokens orelse return fail(.invalid_argument, "tokens is null"))[0..n];
    const buf: []u8 = if (cap == 0) &.{} else (out orelse return fail(.invalid_argument, "out is null"))[0..cap];
    var bad: u32 = 0;
    const size = self.decode(ids, buf, &bad) catch |err| return switch (err) {
        error.InvalidToken => failFmt(.invalid_data, "token id {d} is not an ordinary token", .{bad}),
        error.TooLarge => fail(.too_large, "decoded size does not fit in int64"),
    };
    return @intCast(size);
}

pub export fn ch_tok_split(kind: u32, text: ?[*]const u8, len: usize, out_ends: ?[*]u32, cap: usize) i64 {
    const encoding = tokEncoding(kind) orelse return failFmt(.invalid_argument, "unknown tokenizer kind {d}", .{kind});
    if (len > std.math.maxInt(u32)) return fail(.too_large, "text longer than 4 GiB");
    const t = tokBytes(text, len) orelse return fail(.invalid_argument, "text is null");
    const ends: []u32 = if (cap == 0) &.{} else (out_ends orelse return fail(.invalid_argument, "out_ends is null"))[0..cap];
    const n = pretokenize.split(encoding, t, ends) catch |err| return switch (err) {
        error.BufferTooSmall => fail(.buffer_too_small, "output buffer too small"),
        error.TooLarge => fail(.too_large, "text longer than 4 GiB"),
    };
    return @intCast(n);
}

// ---- stream_translate -----------------------------------------------------

const stream_translate = @import("stream_translate.zig");

/// What C sees as `ch_stream`: a `stream_translate.Translator`.
pub const StHandle = opaque {};

const StBox = struct {
    t: *stream_translate.Translator,
    failed: bool = false,
};

fn stSelf(h: ?*StHandle) ?*StBox {
    return @ptrCast(@alignCast(h orelse return null));
}

pub export fn ch_st_new(model: ?[*]const u8, model_len: usize, out: ?*?*StHandle) i32 {
    const out_ptr = out orelse return fail(.invalid_argument, "out is null");
    out_ptr.* = null;
    const name = tokBytes(model, model_len) orelse return fail(.invalid_argument, "model is null");
    const box = tok_gpa.create(StBox) catch return fail(.out_of_memory, "out of memory");
    const t = stream_translate.Translator.init(tok_gpa, name) catch {
        tok_gpa.destroy(box);
        return fail(.out_of_memory, "out of memory");
    };
    box.* = .{ .t = t };
    out_ptr.* = @ptrCast(box);
    return 0;
}

pub export fn ch_st_free(h: ?*StHandle) void {
    const box = stSelf(h) orelse return;
    box.t.deinit();
    tok_gpa.destroy(box);
}

pub export fn ch_st_state(h: ?*StHandle) i32 {
    const box = stSelf(h) orelse return fail(.invalid_argument, "stream is null");
    return @intFromEnum(box.t.state());
}

/// Runs `step` once (unless the handle failed before), then hands out the
/// pending output: copied when it fits in cap, else kept for a retry.
fn stStep(box: *StBox, step: anytype, args: anytype, out: ?[*]u8, cap: usize) i64 {
    if (box.failed) return fail(.unsupported, "this stream failed earlier; replay it through the reference");
    @call(.auto, step, args) catch |err| {
        box.failed = true;
        return switch (err) {
            error.OutOfMemory => fail(.out_of_memory, "out of memory"),
            error.Unsupported => fail(.unsupported, "input outside the native translator's scope"),
        };
    };
    const pending = box.t.out.items;
    if (pending.len > std.math.maxInt(i64)) return fail(.too_large, "output does not fit in int64");
    if (pending.len <= cap and pending.len > 0) {
        const buf = (out orelse return fail(.invalid_argument, "out is null"))[0..cap];
        @memcpy(buf[0..pending.len], pending);
        const n = pending.len;
        box.t.out.clearRetainingCapacity();
        return @intCast(n);
    }
    return @intCast(pending.len);
}

pub export fn ch_st_feed(h: ?*StHandle, data: ?[*]const u8, len: usize, out: ?[*]u8, cap: usize) i64 {
    const box = stSelf(h) orelse return fail(.invalid_argument, "stream is null");
    const bytes = tokBytes(data, len) orelse return fail(.invalid_argument, "data is null");
    return stStep(box, stream_translate.Translator.feed, .{ box.t, bytes }, out, cap);
}

pub export fn ch_st_finish(h: ?*StHandle, out: ?[*]u8, cap: usize) i64 {
    const box = stSelf(h) orelse return fail(.invalid_argument, "stream is null");
    return stStep(box, stream_translate.Translator.finish, .{box.t}, out, cap);
}

// ---- header drift check -------------------------------------------------
// Compiled only in tests (needs libc headers for stdint.h): every ch_*
// function of the header must be exported here with the same C shape,
// every ch_* export here must be declared in the header, and the header's
// constants must equal the Zig values they stand for.

test "header and exports agree" {
    const c = @cImport(@cInclude("copilot_core.h"));
    @setEvalBranchQuota(200_000);
    const root = @This();
    try std.testing.expectEqual(@as(comptime_int, c.CH_ABI_VERSION), abi_version);
    try expectConstants(c, "CH_E_", Status);
    try expectConstants(c, "CH_RATE_LIMIT_", rate_limit.Action);
    try expectConstants(c, "CH_TOK_", pretokenize.Encoding);
    try expectConstants(c, "CH_ST_", stream_translate.State);
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

/// Every field of `Enum` has a `prefix ++ UPPER_NAME` constant in the header
/// with the same value (the header is where Python reads them from).
fn expectConstants(comptime c: type, comptime prefix: []const u8, comptime Enum: type) !void {
    inline for (@typeInfo(Enum).@"enum".fields) |field| {
        const name = comptime blk: {
            var upper: [field.name.len]u8 = undefined;
            _ = std.ascii.upperString(&upper, field.name);
            break :blk prefix ++ upper;
        };
        if (!@hasDecl(c, name)) @compileError("copilot_core.h lacks " ++ name);
        try std.testing.expectEqual(@as(comptime_int, @field(c, name)), field.value);
    }
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
        // translate-c spells a pointer to an opaque type `?*T`.
        .optional => |ao| return @typeInfo(ao.child) == .pointer and sameCShape(ao.child, B),
        else => return false,
    }
}

test {
    std.testing.refAllDecls(rate_limit);
    std.testing.refAllDecls(vocab);
    std.testing.refAllDecls(bpe);
    std.testing.refAllDecls(stream_translate);
}
