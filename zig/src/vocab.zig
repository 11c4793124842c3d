//! The BPE vocabulary: parses a .tiktoken rank file (`base64(token) SP rank`
//! lines) and builds the immutable lookup structures the merge loop uses:
//!
//!  - `tokens`: rank -> bytes (for decode and for comparing long keys);
//!  - an open-addressing hash table bytes -> rank whose 16-byte slots hold
//!    the first 8 bytes of the token inline, so a lookup of a token of up to
//!    8 bytes touches one cache line and never the token bytes themselves;
//!  - `byte_rank` (every single byte) and `pair2` (every two-byte string),
//!    direct tables for the first merge round.
//!
//! Everything is read-only after `init`, so one Vocab is shared by all
//! threads without locking.

const std = @import("std");
const Allocator = std.mem.Allocator;

/// "No such token": never a valid rank (ranks are bounded by `max_rank`).
pub const none: u32 = std.math.maxInt(u32);

/// The largest rank accepted in a rank file.
pub const max_rank: u32 = (1 << 30) - 1;

pub const TokenRef = extern struct {
    off: u32,
    /// 0 for a rank that has no token (a gap in the rank file).
    len: u32,
};

/// One hash table slot; `len == 0` marks an empty slot.
pub const Slot = extern struct {
    /// The first min(len, 8) bytes of the token, little endian, zero padded.
    key: u64,
    rank: u32,
    len: u32,
};

pub const ParseError = error{ InvalidData, OutOfMemory, TooLarge };

/// Why a rank file was rejected (filled on error.InvalidData).
pub const Diagnostic = struct {
    buf: [200]u8 = undefined,
    len: usize = 0,

    pub fn message(self: *const Diagnostic) []const u8 {
        return self.buf[0..self.len];
    }

    fn set(self: *Diagnostic, comptime fmt: []const u8, args: anytype) error{InvalidData} {
        const s = std.fmt.bufPrint(&self.buf, fmt, args) catch self.buf[0..];
        self.len = s.len;
        return error.InvalidData;
    }
};

pub const Vocab = struct {
    /// Decoded token bytes, in file order.
    bytes: []u8,
    /// Indexed by rank.
    tokens: []TokenRef,
    /// Power-of-two sized, at most half full.
    slots: []Slot,
    mask: usize,
    /// Rank of each single byte (the file must give every byte a rank).
    byte_rank: [256]u32,
    /// Rank of the two-byte token `b0 b1` at index `b0 | b1 << 8`, or none.
    pair2: []u32,
    /// Length of the longest token.
    max_len: usize,
    /// Number of tokens.
    count: usize,

    pub fn init(gpa: Allocator, data: []const u8, diag: *Diagnostic) ParseError!Vocab {
        if (data.len > std.math.maxInt(u32)) return error.TooLarge;

        // Pass 1: decode every line into `bytes` and `entries`.
        const line_bound = std.mem.count(u8, data, "\n") + 1;
        const Entry = struct { off: u32, len: u32, rank: u32 };
        const entries = try gpa.alloc(Entry, line_bound);
        defer gpa.free(entries);
        // Decoded tokens take at most 3 bytes per 4 base64 characters, plus
        // 8 bytes of padding (see below).
        var bytes = try gpa.alloc(u8, data.len / 4 * 3 + 3 + 8);
        errdefer gpa.free(bytes);

        var n_entries: usize = 0;
        var used: usize = 0;
        var top_rank: u32 = 0;
        var line_no: usize = 0;
        var rest = data;
        while (rest.len > 0) {
            line_no += 1;
            const nl = std.mem.indexOfScalar(u8, rest, '\n') orelse rest.len;
            var line = rest[0..nl];
            rest = if (nl < rest.len) rest[nl + 1 ..] else rest[rest.len..];
            if (line.len > 0 and line[line.len - 1] == '\r') line = line[0 .. line.len - 1];
            if (line.len == 0) continue;

            const sep = std.mem.indexOfAny(u8, line, " \t") orelse
                return diag.set("rank file line {d}: expected 'base64 rank'", .{line_no});
            const b64 = line[0..sep];
            const rank_text = std.mem.trim(u8, line[sep..], " \t");
            const rank = parseRank(rank_text) orelse
                return diag.set("rank file line {d}: rank is not a decimal number below 2^30", .{line_no});
            const n = decodeBase64(b64, bytes[used..]) orelse
                return diag.set("rank file line {d}: invalid base64 token", .{line_no});
            if (n == 0) return diag.set("rank file line {d}: empty token", .{line_no});
            entries[n_entries] = .{ .off = @intCast(used), .len = @intCast(n), .rank = rank };
            n_entries += 1;
            used += n;
            top_rank = @max(top_rank, rank);
        }
        if (n_entries == 0) return diag.set("rank file has no tokens", .{});
        // Gaps are allowed, but the rank table is sized by the top rank.
        if (top_rank >= 2 * n_entries + 256) {
            return diag.set("rank file ranks are too sparse: {d} tokens, top rank {d}", .{ n_entries, top_rank });
        }
        // Keep 8 zero bytes after the last token, so the second word of any
        // token can be loaded whole (see `lookup`).
        if (gpa.resize(bytes, used + 8)) bytes = bytes[0 .. used + 8];
        @memset(bytes[used..][0..8], 0);

        const tokens = try gpa.alloc(TokenRef, @as(usize, top_rank) + 1);
        errdefer gpa.free(tokens);
        @memset(tokens, .{ .off = 0, .len = 0 });
        var max_len: usize = 0;
        for (entries[0..n_entries]) |e| {
            if (tokens[e.rank].len != 0) return diag.set("rank file has rank {d} twice", .{e.rank});
            tokens[e.rank] = .{ .off = e.off, .len = e.len };
            max_len = @max(max_len, e.len);
        }

        // Hash table, at most half full. Tokens go in in slot order (radix
        // sorted by home slot), so building it walks memory sequentially
        // instead of missing the cache on every insert.
        var cap: usize = 1024;
        var cap_bits: u6 = 10;
        while (cap < 2 * n_entries) {
            cap *= 2;
            cap_bits += 1;
        }
        const slots = try gpa.alloc(Slot, cap);
        errdefer gpa.free(slots);
        @memset(slots, .{ .key = 0, .rank = 0, .len = 0 });
        const mask = cap - 1;
        const order = try gpa.alloc(u64, 2 * n_entries);
        defer gpa.free(order);
        var n_order: usize = 0;
        for (tokens, 0..) |t, rank| {
            if (t.len == 0) continue;
            const home = hashBytes(bytes, t.off, t.len) & mask;
            order[n_order] = home << 32 | rank;
            n_order += 1;
        }
        radixSortHigh(order[0..n_order], order[n_order..][0..n_order], cap_bits);
        for (order[0..n_order]) |o| {
            const rank: u32 = @truncate(o);
            const t = tokens[rank];
            const tok = bytes[t.off..][0..t.len];
            const key = loadKey(bytes, t.off, t.len);
            var i: usize = @intCast(o >> 32);
            while (slots[i].len != 0) : (i = (i + 1) & mask) {
                const s = slots[i];
                if (s.len == t.len and s.key == key and
                    std.mem.eql(u8, bytes[tokens[s.rank].off..][0..s.len], tok))
                {
                    const lo = @min(s.rank, rank);
                    const hi = @max(s.rank, rank);
                    return diag.set("rank file has the same token at ranks {d} and {d}", .{ lo, hi });
                }
            }
            slots[i] = .{ .key = key, .rank = rank, .len = t.len };
        }

        var self: Vocab = .{
            .bytes = bytes,
            .tokens = tokens,
            .slots = slots,
            .mask = mask,
            .byte_rank = undefined,
            .pair2 = &.{},
            .max_len = max_len,
            .count = n_entries,
        };
        for (0..256) |b| {
            const one = [1]u8{@intCast(b)};
            const r = self.lookup(&one, 0, 1);
            if (r == none) return diag.set("rank file has no token for byte 0x{x:0>2}", .{b});
            self.byte_rank[b] = r;
        }
        const pair2 = try gpa.alloc(u32, 1 << 16);
        @memset(pair2, none);
        for (tokens, 0..) |t, rank| {
            if (t.len != 2) continue;
            const b = bytes[t.off..][0..2];
            pair2[@as(usize, b[0]) | @as(usize, b[1]) << 8] = @intCast(rank);
        }
        self.pair2 = pair2;
        return self;
    }

    pub fn deinit(self: *Vocab, gpa: Allocator) void {
        gpa.free(self.pair2);
        gpa.free(self.slots);
        gpa.free(self.tokens);
        gpa.free(self.bytes);
        self.* = undefined;
    }

    /// The bytes of token `rank`, or null when no token has that rank.
    pub fn tokenBytes(self: *const Vocab, rank: u32) ?[]const u8 {
        if (rank >= self.tokens.len) return null;
        const t = self.tokens[rank];
        if (t.len == 0) return null;
        return self.bytes[t.off..][0..t.len];
    }

    /// Rank of `text[pos..][0..len]`, or `none`. Needs 1 <= len and
    /// pos + len <= text.len; reads only inside `text`.
    pub inline fn lookup(self: *const Vocab, text: []const u8, pos: usize, len: usize) u32 {
        if (len > self.max_len) return none;
        const key = loadKey(text, pos, len);
        if (len <= 8) {
            var i: usize = @intCast(hashShort(key, len) & self.mask);
            while (true) : (i = (i + 1) & self.mask) {
                const s = self.slots[i];
                if (s.key == key and s.len == len) return s.rank;
                if (s.len == 0) return none;
            }
        }
        if (len <= 16) {
            // Same hash as hashBytes; the token's second word is compared
            // whole (the bytes buffer is padded), no byte loop.
            const key1 = loadKey(text, pos + 8, len - 8);
            const shift: u6 = @intCast((16 - len) * 8);
            var i: usize = @intCast(mix(key1 ^ seed2, hashShort(key, len) ^ seed1) & self.mask);
            while (true) : (i = (i + 1) & self.mask) {
                const s = self.slots[i];
                if (s.key == key and s.len == len) {
                    const off = self.tokens[s.rank].off;
                    const w = std.mem.readInt(u64, self.bytes[off + 8 ..][0..8], .little);
                    if (w << shift >> shift == key1) return s.rank;
                }
                if (s.len == 0) return none;
            }
        }
        return self.lookupLong(text, pos, len, key);
    }

    fn lookupLong(self: *const Vocab, text: []const u8, pos: usize, len: usize, key: u64) u32 {
        var i: usize = @intCast(hashBytes(text, pos, len) & self.mask);
        const tail = text[pos + 8 .. pos + len];
        while (true) : (i = (i + 1) & self.mask) {
            const s = self.slots[i];
            if (s.len == 0) return none;
            if (s.key == key and s.len == len and
                std.mem.eql(u8, self.bytes[self.tokens[s.rank].off + 8 ..][0 .. len - 8], tail))
            {
                return s.rank;
            }
        }
    }
};

// ---- hashing -------------------------------------------------------------
// wyhash-style multiply-fold. The table is built with `hashBytes` and probed
// with `hashShort` (len <= 8) or `hashBytes`; both agree for every key.

const seed0: u64 = 0xa0761d6478bd642f;
const seed1: u64 = 0xe7037ed1a0b428db;
const seed2: u64 = 0x8ebc6af09c88c6e3;

pub inline fn mix(a: u64, b: u64) u64 {
    const p = std.math.mulWide(u64, a, b);
    return @as(u64, @truncate(p)) ^ @as(u64, @truncate(p >> 64));
}

inline fn hashShort(key: u64, len: usize) u64 {
    return mix(key ^ seed0, @as(u64, len) ^ seed1);
}

fn hashBytes(text: []const u8, pos: usize, len: usize) u64 {
    var h = hashShort(loadKey(text, pos, len), len);
    var off: usize = 8;
    while (off < len) : (off += 8) {
        h = mix(loadKey(text, pos + off, len - off) ^ seed2, h ^ seed1);
    }
    return h;
}

/// The first min(len, 8) bytes of text[pos..], little endian, zero padded.
/// Needs 1 <= len and pos + len <= text.len.
pub inline fn loadKey(text: []const u8, pos: usize, len: usize) u64 {
    if (text.len >= 8 and pos <= text.len - 8) {
        const w = std.mem.readInt(u64, text[pos..][0..8], .little);
        if (len >= 8) return w;
        const shift: u6 = @intCast(len * 8);
        return w & ((@as(u64, 1) << shift) - 1);
    }
    var buf: [8]u8 = @splat(0);
    const n = @min(len, 8);
    @memcpy(buf[0..n], text[pos..][0..n]);
    return std.mem.readInt(u64, &buf, .little);
}

/// Sorts `items` by the low `bits` bits of their upper 32 bits (LSD radix
/// sort, 11 bits per pass, stable); `tmp` has the same length.
fn radixSortHigh(items: []u64, tmp: []u64, bits: u6) void {
    var src = items;
    var dst = tmp;
    var shift: u6 = 0;
    while (shift < bits) : (shift += 11) {
        var counts: [2048]usize = @splat(0);
        for (src) |x| counts[@intCast((x >> 32 >> shift) & 2047)] += 1;
        var sum: usize = 0;
        for (&counts) |*c| {
            const k = c.*;
            c.* = sum;
            sum += k;
        }
        for (src) |x| {
            const d: usize = @intCast((x >> 32 >> shift) & 2047);
            dst[counts[d]] = x;
            counts[d] += 1;
        }
        const t = src;
        src = dst;
        dst = t;
    }
    if (src.ptr != items.ptr) @memcpy(items, src);
}

// ---- parsing -------------------------------------------------------------

fn parseRank(s: []const u8) ?u32 {
    if (s.len == 0 or s.len > 10) return null;
    var v: u64 = 0;
    for (s) |c| {
        if (c < '0' or c > '9') return null;
        v = v * 10 + (c - '0');
    }
    if (v > max_rank) return null;
    return @intCast(v);
}

const b64_invalid: u8 = 0xff;
const b64_table: [256]u8 = blk: {
    var t: [256]u8 = @splat(b64_invalid);
    const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    for (alphabet, 0..) |c, i| t[c] = i;
    break :blk t;
};

/// Decodes padded standard base64 into `out` (which has room for
/// s.len / 4 * 3 bytes); returns the decoded length, or null when `s` is not
/// valid padded base64. Leftover bits in the last group are ignored, as
/// Python's base64.b64decode does.
fn decodeBase64(s: []const u8, out: []u8) ?usize {
    if (s.len % 4 != 0) return null;
    if (s.len / 4 * 3 > out.len) return null;
    var n: usize = 0;
    var i: usize = 0;
    while (i < s.len) : (i += 4) {
        const last = i + 4 == s.len;
        const a = b64_table[s[i]];
        const b = b64_table[s[i + 1]];
        if (a == b64_invalid or b == b64_invalid) return null;
        var c = b64_table[s[i + 2]];
        var d = b64_table[s[i + 3]];
        var take: usize = 3;
        if (last and s[i + 3] == '=') {
            if (s[i + 2] == '=') {
                take = 1;
                c = 0;
            } else {
                take = 2;
                if (c == b64_invalid) return null;
            }
            d = 0;
        } else if (c == b64_invalid or d == b64_invalid) {
            return null;
        }
        const v: u32 = @as(u32, a) << 18 | @as(u32, b) << 12 | @as(u32, c) << 6 | d;
        // All three bytes fit (out has room for s.len / 4 * 3); only `take`
        // of them count.
        out[n] = @truncate(v >> 16);
        out[n + 1] = @truncate(v >> 8);
        out[n + 2] = @truncate(v);
        n += take;
    }
    return n;
}

// ---- tests ---------------------------------------------------------------

const testing = std.testing;

/// A tiny rank file: every byte, then a few merges.
pub fn testRankFile(gpa: Allocator, extra: []const []const u8) ![]u8 {
    var out: std.ArrayList(u8) = .empty;
    errdefer out.deinit(gpa);
    var rank: usize = 0;
    var enc_buf: [400]u8 = undefined;
    const encoder = std.base64.standard.Encoder;
    for (0..256) |b| {
        const one = [1]u8{@intCast(b)};
        try out.print(gpa, "{s} {d}\n", .{ encoder.encode(&enc_buf, &one), rank });
        rank += 1;
    }
    for (extra) |tok| {
        try out.print(gpa, "{s} {d}\n", .{ encoder.encode(&enc_buf, tok), rank });
        rank += 1;
    }
    return out.toOwnedSlice(gpa);
}

test "base64 decoding" {
    var out: [16]u8 = undefined;
    try testing.expectEqual(@as(?usize, 1), decodeBase64("YQ==", &out));
    try testing.expectEqualStrings("a", out[0..1]);
    try testing.expectEqual(@as(?usize, 2), decodeBase64("YWI=", &out));
    try testing.expectEqualStrings("ab", out[0..2]);
    try testing.expectEqual(@as(?usize, 6), decodeBase64("YWJjZGVm", &out));
    try testing.expectEqualStrings("abcdef", out[0..6]);
    try testing.expectEqual(@as(?usize, null), decodeBase64("YQ=", &out));
    try testing.expectEqual(@as(?usize, null), decodeBase64("Y===", &out));
    try testing.expectEqual(@as(?usize, null), decodeBase64("YQ==YQ==", &out));
    try testing.expectEqual(@as(?usize, null), decodeBase64("Y!==", &out));
    try testing.expectEqual(@as(?usize, 0), decodeBase64("", &out));
}

test "parse, look up and decode a small vocabulary" {
    const gpa = testing.allocator;
    const file = try testRankFile(gpa, &.{ "ab", "abc", "abcdefghij", "abcdefghik", "\x00" ++ "a", "abcdefghijklmnopqrstu", "abcdefghijklmnop" });
    defer gpa.free(file);
    var diag: Diagnostic = .{};
    // "\x00a" is fine; a duplicate is not (checked below).
    var v = try Vocab.init(gpa, file, &diag);
    defer v.deinit(gpa);
    try testing.expectEqual(@as(usize, 263), v.count);
    try testing.expectEqual(@as(u32, 261), v.lookup("abcdefghijklmnopqrstu", 0, 21));
    try testing.expectEqual(@as(u32, 261), v.lookup("..abcdefghijklmnopqrstu..", 2, 21));
    try testing.expectEqual(none, v.lookup("abcdefghijklmnopqrstv", 0, 21));
    try testing.expectEqual(@as(u32, 262), v.lookup("abcdefghijklmnop", 0, 16));
    try testing.expectEqual(@as(u32, 262), v.lookup("abcdefghijklmnopqrstu", 0, 16));
    try testing.expectEqual(none, v.lookup("abcdefghijklmnoq", 0, 16));
    try testing.expectEqual(none, v.lookup("abcdefghijklmnopqrstu", 0, 15));
    try testing.expectEqual(@as(u32, 'a'), v.byte_rank['a']);
    try testing.expectEqual(@as(u32, 256), v.lookup("xxabxx", 2, 2));
    try testing.expectEqual(@as(u32, 256), v.pair2['a' | @as(usize, 'b') << 8]);
    try testing.expectEqual(@as(u32, 257), v.lookup("abc", 0, 3));
    try testing.expectEqual(@as(u32, 258), v.lookup("abcdefghij", 0, 10));
    try testing.expectEqual(@as(u32, 259), v.lookup("--abcdefghik", 2, 10));
    try testing.expectEqual(none, v.lookup("abcdefghix", 0, 10));
    try testing.expectEqual(none, v.lookup("abcdefghijk", 0, 11));
    try testing.expectEqual(@as(u32, 260), v.lookup("\x00a", 0, 2));
    try testing.expectEqual(@as(u32, 0), v.lookup("\x00a", 0, 1));
    try testing.expectEqual(none, v.lookup("ba", 0, 2));
    try testing.expectEqualStrings("abcdefghik", v.tokenBytes(259).?);
    try testing.expectEqual(@as(?[]const u8, null), v.tokenBytes(263));
}

fn expectInvalid(file: []const u8, want: []const u8) !void {
    var diag: Diagnostic = .{};
    try testing.expectError(error.InvalidData, Vocab.init(testing.allocator, file, &diag));
    if (std.mem.indexOf(u8, diag.message(), want) == null) {
        std.debug.print("message '{s}' lacks '{s}'\n", .{ diag.message(), want });
        return error.TestUnexpectedResult;
    }
}

test "malformed rank files are rejected with a message" {
    const gpa = testing.allocator;
    try expectInvalid("", "no tokens");
    try expectInvalid("\n\n", "no tokens");
    try expectInvalid("YQ==\n", "line 1: expected");
    try expectInvalid("YQ== x\n", "line 1: rank");
    try expectInvalid("YQ== 99999999999\n", "line 1: rank");
    try expectInvalid("YQ== -1\n", "line 1: rank");
    try expectInvalid("YQ== 0\nY 1\n", "line 2: invalid base64");
    try expectInvalid("YQ== 0\n 1\n", "line 2: empty token");
    try expectInvalid("YQ== 0\n", "no token for byte 0x00");
    try expectInvalid("YQ== 0\nYQ== 1\n", "same token");
    try expectInvalid("YQ== 0\nYg== 0\n", "rank 0 twice");
    try expectInvalid("YQ== 100000\n", "too sparse");

    // A duplicate of a full-vocabulary token, with CRLF line ends elsewhere.
    const file = try testRankFile(gpa, &.{"ab"});
    defer gpa.free(file);
    const bad = try std.mem.concat(gpa, u8, &.{ file, "YWI= 258\r\n" });
    defer gpa.free(bad);
    try expectInvalid(bad, "same token");
}

test "gaps, CRLF and blank lines are accepted" {
    const gpa = testing.allocator;
    var out: std.ArrayList(u8) = .empty;
    defer out.deinit(gpa);
    var enc_buf: [8]u8 = undefined;
    for (0..256) |b| {
        const one = [1]u8{@intCast(b)};
        try out.print(gpa, "{s}  {d}\r\n\n", .{ std.base64.standard.Encoder.encode(&enc_buf, &one), b * 2 });
    }
    var diag: Diagnostic = .{};
    var v = try Vocab.init(gpa, out.items, &diag);
    defer v.deinit(gpa);
    try testing.expectEqual(@as(u32, 2 * 'a'), v.byte_rank['a']);
    try testing.expectEqual(@as(?[]const u8, null), v.tokenBytes(1));
    try testing.expectEqualStrings("a", v.tokenBytes(2 * 'a').?);
}

test "out of memory anywhere in init is reported and leaks nothing" {
    const file = try testRankFile(testing.allocator, &.{ "ab", "abc" });
    defer testing.allocator.free(file);
    var i: usize = 0;
    while (true) : (i += 1) {
        var failing = std.testing.FailingAllocator.init(testing.allocator, .{ .fail_index = i });
        var diag: Diagnostic = .{};
        if (Vocab.init(failing.allocator(), file, &diag)) |v| {
            var vv = v;
            vv.deinit(failing.allocator());
            break;
        } else |err| try testing.expectEqual(error.OutOfMemory, err);
    }
}
