//! Byte-pair encoding exactly as tiktoken 0.14 does it: the pre-tokenizer
//! cuts the text into pieces; a piece that is a vocabulary entry is one
//! token; otherwise its bytes are merged pairwise, always the adjacent pair
//! whose concatenation has the lowest rank, the leftmost one on ties.
//!
//! Routes, fastest first (all give the same tokens):
//!  - 1 byte, 2 bytes, or a whole vocabulary entry: one table lookup;
//!  - up to 16 bytes (almost every piece that needs merging): a branch-free
//!    vector merge, behind a per-call cache of recent pieces;
//!  - up to 128 bytes: linear-scan merge in stack arrays;
//!  - longer: a linked list of parts with a binary heap of candidate merges,
//!    or rank buckets from 16 KiB on; O(n log n), so no input is quadratic;
//!  - over 512 KiB: the same in overlapping windows (`mergeWindowed`), with
//!    the same tokens, so the scratch memory stays ~30 MB for any piece.
//!
//! Everything a call writes is on its stack or allocated (and freed) by it;
//! the Vocab is only read, so one Tokenizer serves many threads at once.

const std = @import("std");
const Allocator = std.mem.Allocator;
pub const vocab_mod = @import("vocab.zig");
pub const pretokenize = @import("pretokenize.zig");

pub const Vocab = vocab_mod.Vocab;
pub const Encoding = pretokenize.Encoding;
pub const none = vocab_mod.none;

pub const Error = error{ OutOfMemory, BufferTooSmall, InvalidPiece };

/// Pieces up to this many bytes merge on the stack.
const small_max = 128;

pub const Tokenizer = struct {
    encoding: Encoding,
    vocab: Vocab,
    /// Scratch memory for long pieces; must be thread safe.
    gpa: Allocator,

    pub fn init(gpa: Allocator, encoding: Encoding, ranks: []const u8, diag: *vocab_mod.Diagnostic) vocab_mod.ParseError!*Tokenizer {
        const self = try gpa.create(Tokenizer);
        errdefer gpa.destroy(self);
        self.* = .{ .encoding = encoding, .vocab = try Vocab.init(gpa, ranks, diag), .gpa = gpa };
        return self;
    }

    pub fn deinit(self: *Tokenizer) void {
        const gpa = self.gpa;
        self.vocab.deinit(gpa);
        gpa.destroy(self);
    }

    /// Number of tokens of `text`.
    pub fn count(self: *const Tokenizer, text: []const u8) Error!usize {
        var sink: CountSink = .{};
        try self.run(text, &sink);
        return sink.n;
    }

    /// Writes the token ids of `text` to `out`; error.BufferTooSmall when
    /// they do not fit (out.len >= text.len always suffices).
    pub fn encode(self: *const Tokenizer, text: []const u8, out: []u32) Error!usize {
        if (out.len >= text.len) {
            var sink: IdSink(false) = .{ .out = out };
            try self.run(text, &sink);
            return sink.n;
        }
        var sink: IdSink(true) = .{ .out = out };
        try self.run(text, &sink);
        return sink.n;
    }

    /// The number of bytes the tokens decode to. They are written to `out`
    /// only when they fit. error.InvalidToken (with the id in `bad`) for an
    /// id that is not an ordinary token; error.TooLarge when the size does
    /// not fit in an i64.
    pub fn decode(self: *const Tokenizer, ids: []const u32, out: []u8, bad: *u32) error{ InvalidToken, TooLarge }!usize {
        const v = &self.vocab;
        var total: usize = 0;
        for (ids) |id| {
            const bytes = v.tokenBytes(id) orelse {
                bad.* = id;
                return error.InvalidToken;
            };
            total = std.math.add(usize, total, bytes.len) catch return error.TooLarge;
        }
        if (total > std.math.maxInt(i64)) return error.TooLarge;
        if (total > out.len) return total;
        var n: usize = 0;
        for (ids) |id| {
            const t = v.tokens[id];
            @memcpy(out[n..][0..t.len], v.bytes[t.off..][0..t.len]);
            n += t.len;
        }
        return total;
    }

    fn run(self: *const Tokenizer, text: []const u8, sink: anytype) Error!void {
        const v = &self.vocab;
        var cache: PieceCache = .{};
        var pos: usize = 0;
        while (pos < text.len) {
            const end = pretokenize.pieceEnd(self.encoding, text, pos);
            if (end <= pos or end > text.len) return error.InvalidPiece;
            try encodePiece(v, self.gpa, text, pos, end - pos, sink, &cache);
            pos = end;
        }
    }
};

const CountSink = struct {
    n: usize = 0,

    inline fn push(self: *CountSink, rank: u32) Error!void {
        _ = rank;
        self.n += 1;
    }

    inline fn pushAll(self: *CountSink, ranks: []const u32) Error!void {
        self.n += ranks.len;
    }

    const counts_only = true;
};

fn IdSink(comptime checked: bool) type {
    return struct {
        out: []u32,
        n: usize = 0,

        const Self = @This();

        inline fn push(self: *Self, rank: u32) Error!void {
            if (checked and self.n >= self.out.len) return error.BufferTooSmall;
            self.out[self.n] = rank;
            self.n += 1;
        }

        inline fn pushAll(self: *Self, ranks: []const u32) Error!void {
            if (checked and ranks.len > self.out.len - self.n) return error.BufferTooSmall;
            @memcpy(self.out[self.n..][0..ranks.len], ranks);
            self.n += ranks.len;
        }

        const counts_only = false;
    };
}

/// Tokens of the piece text[start..][0..n] (n >= 1) into `sink`.
pub inline fn encodePiece(v: *const Vocab, gpa: Allocator, text: []const u8, start: usize, n: usize, sink: anytype, cache: *PieceCache) Error!void {
    if (n == 1) return sink.push(v.byte_rank[text[start]]);
    const whole = if (n == 2)
        v.pair2[@as(usize, text[start]) | @as(usize, text[start + 1]) << 8]
    else
        v.lookup(text, start, n);
    if (whole != none) return sink.push(whole);
    if (n <= small_max) return mergeCached(v, text, start, n, sink, cache);
    return mergeLarge(v, gpa, text, start, n, sink);
}

/// Most pieces that need merging recur within a document (identifiers,
/// inflected words): about 70% of them in real text. The cache remembers the
/// tokens of pieces of up to 16 bytes that merge into at most 3 tokens. It
/// lives on the stack of one call (so nothing outlives the call or is shared
/// between threads) and is only set up for texts long enough to repay
/// clearing it.
pub const PieceCache = struct {
    /// 0: not set up yet.
    mask: usize = 0,
    entries: [max_entries]Entry = undefined,

    const max_entries = 1024;
    const min_entries = 64;
    /// Texts shorter than this do not use the cache.
    const min_text = 2048;
    const max_key = 16;
    const max_ids = 3;

    const Entry = extern struct {
        k0: u64,
        k1: u64,
        /// Piece length | id count << 8; 0 for an empty entry.
        meta: u32,
        ids: [max_ids]u32,
    };

    /// The entry for this piece (hit or slot to fill), or null when the
    /// piece or the text does not qualify.
    inline fn slot(self: *PieceCache, text: []const u8, start: usize, n: usize, k0: *u64, k1: *u64) ?*Entry {
        if (n > max_key) return null;
        if (self.mask == 0) {
            if (text.len < min_text) return null;
            var size: usize = min_entries;
            while (size < max_entries and size * 32 < text.len) size *= 2;
            @memset(self.entries[0..size], .{ .k0 = 0, .k1 = 0, .meta = 0, .ids = .{ 0, 0, 0 } });
            self.mask = size - 1;
        }
        k0.* = vocab_mod.loadKey(text, start, n);
        k1.* = if (n > 8) vocab_mod.loadKey(text, start + 8, n - 8) else 0;
        const h = vocab_mod.mix(k0.* ^ 0x9e3779b97f4a7c15, k1.* ^ (@as(u64, n) << 56 | 0x2545f4914f6cdd1d));
        return &self.entries[@intCast(h & self.mask)];
    }
};

fn mergeCached(v: *const Vocab, text: []const u8, start: usize, n: usize, sink: anytype, cache: *PieceCache) Error!void {
    var k0: u64 = undefined;
    var k1: u64 = undefined;
    const entry = cache.slot(text, start, n, &k0, &k1);
    if (entry) |e| {
        if (e.meta & 0xff == n and e.k0 == k0 and e.k1 == k1) {
            const count = e.meta >> 8;
            if (@TypeOf(sink.*).counts_only) {
                sink.n += count;
                return;
            }
            return sink.pushAll(e.ids[0..count]);
        }
    }
    var tok: [small_max]u32 = undefined;
    const parts = if (n <= tiny_max) mergeTiny(v, text, start, n, tok[0..tiny_max]) else mergeSmall(v, text, start, n, &tok);
    if (entry) |e| {
        if (parts <= PieceCache.max_ids) {
            e.k0 = k0;
            e.k1 = k1;
            e.meta = @intCast(n | parts << 8);
            @memcpy(e.ids[0..parts], tok[0..parts]);
        }
    }
    return sink.pushAll(tok[0..parts]);
}

/// mergeSmall for 2 <= n <= tiny_max bytes (almost every piece that needs
/// merging), branch-free: the part arrays are vectors, the lowest pair is
/// found with a vector min and a mask, and a part is removed by selecting
/// between each array and itself shifted by one lane.
const tiny_max = 16;

fn mergeTiny(v: *const Vocab, text: []const u8, start: usize, n: usize, out: *[tiny_max]u32) usize {
    const V = @Vector(tiny_max, u32);
    const P = @Vector(32, u8);
    const lanes32 = std.simd.iota(u32, tiny_max);
    const lanes8 = std.simd.iota(u8, 32);
    // shift[i] = lane i + 1 (the last lane takes the filler).
    const shift32 = comptime blk: {
        var m: [tiny_max]i32 = undefined;
        for (0..tiny_max - 1) |i| m[i] = i + 1;
        m[tiny_max - 1] = -1;
        break :blk m;
    };
    const shift8 = comptime blk: {
        var m: [32]i32 = undefined;
        for (0..31) |i| m[i] = i + 1;
        m[31] = -1;
        break :blk m;
    };
    const p = text[start..][0..n];
    var tok: [tiny_max]u32 = @splat(none);
    var pair: [tiny_max]u32 = @splat(none);
    var pos_arr: [32]u8 = @splat(0);
    for (0..n) |i| {
        tok[i] = v.byte_rank[p[i]];
        pos_arr[i] = @intCast(i);
    }
    pos_arr[n] = @intCast(n);
    for (0..n - 1) |i| pair[i] = v.pair2[@as(usize, p[i]) | @as(usize, p[i + 1]) << 8];

    var parts = n;
    while (true) {
        const pv: V = pair;
        const best = @reduce(.Min, pv);
        if (best == none) break;
        const eq: u16 = @bitCast(pv == @as(V, @splat(best)));
        const bi: usize = @ctz(eq);
        // Part bi absorbs part bi + 1: lanes after bi move down one.
        tok[bi] = best;
        const keep32 = lanes32 <= @as(V, @splat(@intCast(bi)));
        const tv: V = tok;
        tok = @select(u32, keep32, tv, @shuffle(u32, tv, @as(@Vector(1, u32), @splat(none)), shift32));
        pair = @select(u32, keep32, pv, @shuffle(u32, pv, @as(@Vector(1, u32), @splat(none)), shift32));
        const keep8 = lanes8 <= @as(P, @splat(@intCast(bi)));
        const ps: P = pos_arr;
        pos_arr = @select(u8, keep8, ps, @shuffle(u8, ps, @as(@Vector(1, u8), @splat(0)), shift8));
        parts -= 1;
        pair[bi] = if (bi + 1 < parts) v.lookup(text, start + pos_arr[bi], @as(usize, pos_arr[bi + 2]) - pos_arr[bi]) else none;
        if (bi > 0) pair[bi - 1] = v.lookup(text, start + pos_arr[bi - 1], @as(usize, pos_arr[bi + 1]) - pos_arr[bi - 1]);
    }
    out.* = tok;
    return parts;
}

/// Linear-scan merge for 2 <= n <= small_max bytes: per merge, one scan for
/// the lowest pair rank and two lookups for the new neighbours. Writes the
/// tokens to `out` and returns their count.
fn mergeSmall(v: *const Vocab, text: []const u8, start: usize, n: usize, out: *[small_max]u32) usize {
    // pos[k]: offset of part k (pos[parts] = n); tok[k]: its rank;
    // pair[k]: rank of part k joined with part k + 1 (none at the end).
    var pos: [small_max + 1]u32 = undefined;
    const tok = out;
    var pair: [small_max]u32 = undefined;
    const p = text[start..][0..n];
    for (0..n) |i| {
        pos[i] = @intCast(i);
        tok[i] = v.byte_rank[p[i]];
    }
    pos[n] = @intCast(n);
    for (0..n - 1) |i| pair[i] = v.pair2[@as(usize, p[i]) | @as(usize, p[i + 1]) << 8];
    pair[n - 1] = none;

    var parts = n;
    while (true) {
        var best: u32 = none;
        var bi: usize = 0;
        for (pair[0 .. parts - 1], 0..) |r, i| {
            if (r < best) {
                best = r;
                bi = i;
            }
        }
        if (best == none) break;
        // Part bi absorbs part bi + 1.
        tok[bi] = best;
        std.mem.copyForwards(u32, pos[bi + 1 .. parts], pos[bi + 2 .. parts + 1]);
        std.mem.copyForwards(u32, tok[bi + 1 .. parts - 1], tok[bi + 2 .. parts]);
        std.mem.copyForwards(u32, pair[bi + 1 .. parts - 1], pair[bi + 2 .. parts]);
        parts -= 1;
        pair[bi] = if (bi + 1 < parts) v.lookup(text, start + pos[bi], pos[bi + 2] - pos[bi]) else none;
        if (bi > 0) pair[bi - 1] = v.lookup(text, start + pos[bi - 1], pos[bi + 1] - pos[bi - 1]);
    }
    return parts;
}

/// Pieces up to this many bytes use the binary heap; longer ones the rank
/// buckets, whose per-call setup (two arrays the size of the vocabulary)
/// only pays off on long pieces.
const bucket_min = 16 * 1024;

/// Merge for pieces longer than small_max, O(n log n) worst case. Parts form
/// a linked list over byte offsets (see `Parts`); merges are taken from a
/// priority queue of candidates ordered by (rank, start).
fn mergeLarge(v: *const Vocab, gpa: Allocator, text: []const u8, start: usize, n: usize, sink: anytype) Error!void {
    if (n > window_len) return mergeWindowed(v, gpa, text, start, n, sink, window_len, window_overlap);
    if (n >= bucket_min) return mergeWith(BucketQueue, v, gpa, text, start, n, sink);
    return mergeWith(HeapQueue, v, gpa, text, start, n, sink);
}

fn mergeWith(comptime Queue: type, v: *const Vocab, gpa: Allocator, text: []const u8, start: usize, n: usize, sink: anytype) Error!void {
    var parts = try mergedParts(Queue, v, gpa, text, start, n);
    defer parts.deinit(gpa);
    if (@TypeOf(sink.*).counts_only) {
        sink.n += parts.count;
        return;
    }
    try parts.emit(n, sink);
}

/// The parts of text[start..][0..n] after every merge; the caller deinits them.
fn mergedParts(comptime Queue: type, v: *const Vocab, gpa: Allocator, text: []const u8, start: usize, n: usize) Error!Parts {
    if (n < 2 or n > std.math.maxInt(u32) - 1) return error.OutOfMemory;
    var parts = try Parts.init(v, gpa, text, start, n);
    errdefer parts.deinit(gpa);
    var queue = try Queue.init(v, gpa, n);
    defer queue.deinit(gpa);
    for (0..n - 1) |i| {
        const p = text[start + i ..][0..2];
        const r = v.pair2[@as(usize, p[0]) | @as(usize, p[1]) << 8];
        if (r != none) {
            parts.nodes[i].next_rank = r;
            try queue.pushInitial(parts.nodes, r, @intCast(i));
        }
    }
    try queue.run(&parts);
    return parts;
}

fn windowParts(v: *const Vocab, gpa: Allocator, text: []const u8, start: usize, n: usize) Error!Parts {
    if (n >= bucket_min) return mergedParts(BucketQueue, v, gpa, text, start, n);
    return mergedParts(HeapQueue, v, gpa, text, start, n);
}

/// Pieces longer than this merge in windows of this size: one merge needs
/// ~30 bytes of scratch per byte, so a 32 MB piece merged whole took ~900 MB.
const window_len = 512 * 1024;
/// The next window starts at the part boundary this far before the end of
/// the current one (then twice and three times as far, if need be).
const window_overlap = 32 * 1024;
const window_tries = 3;

/// The tokens of a long piece, exactly those of one merge of the whole
/// piece, with the scratch memory of two windows.
///
/// Why this is exact, for the merge rule above (lowest rank of the joined
/// bytes, leftmost on ties):
///  1. Any run of consecutive final tokens is what the merge gives on those
///     bytes alone: no merge crossed the run's outer boundaries, and inside
///     it the same candidates are the lowest, in the same order.
///  2. If the merge of L+E ends with the token E and the merge of E+R starts
///     with E, the merge of L+E+R is L's tokens, E, R's tokens: the
///     boundaries around E never join in either run, so each merge the whole
///     run takes is the next merge of the left run or of the right one (of
///     both, inside E), and it stops when both stop.
/// So with window X = [a, a + len) merged, and Y = [s, s + len) merged from a
/// part boundary s of X: when Y's first token is X's token at s, X's tokens
/// before s are final (1 gives L+E from X, 2 applies by induction over the
/// windows to the end of the piece). When they differ (the text right of
/// X's end reached back past s), an earlier s is tried, then windows twice
/// as long, up to the whole rest of the piece.
fn mergeWindowed(v: *const Vocab, gpa: Allocator, text: []const u8, start: usize, n: usize, sink: anytype, first_len: usize, overlap: usize) Error!void {
    const end = start + n;
    var len = first_len;
    var a = start;
    var x = try windowParts(v, gpa, text, a, @min(len, end - a));
    defer x.deinit(gpa);
    next_window: while (a + x.n < end) {
        var tries: usize = 1;
        while (tries <= window_tries and tries * overlap < x.n) : (tries += 1) {
            const s = x.partAt(x.n - tries * overlap);
            if (s == 0) break;
            var y = try windowParts(v, gpa, text, a + s, @min(len, end - a - s));
            if (x.nodes[s].end - s == y.nodes[0].end) {
                x.emit(s, sink) catch |err| {
                    y.deinit(gpa);
                    return err;
                };
                x.deinit(gpa);
                x = y;
                a += s;
                continue :next_window;
            }
            y.deinit(gpa);
        }
        len *= 2;
        const longer = try windowParts(v, gpa, text, a, @min(len, end - a));
        x.deinit(gpa);
        x = longer;
    }
    try x.emit(x.n, sink);
}

/// The parts of one piece as a linked list over byte offsets. For each byte
/// offset i that starts a live part, node i holds: `end` (where it ends, and
/// the next part starts), `prev` (where the part before it starts), `tok`
/// (its token) and `next_rank` (the rank of it joined with the next part,
/// none if that is not a token). A candidate (rank r, start s) in a queue is
/// current iff next_rank of s == r: the candidate at s only ever gets
/// longer, so it never has the same rank twice. Queues hear of every
/// replaced candidate through `drop`. All of a position's fields share one
/// node (and cache line), since long pieces are bound by memory traffic.
const Node = extern struct {
    end: u32,
    prev: u32,
    tok: u32,
    next_rank: u32,
    /// Neighbours in the BucketQueue bucket of next_rank.
    bnext: u32,
    bprev: u32,
};

const Parts = struct {
    v: *const Vocab,
    text: []const u8,
    start: usize,
    n: usize,
    nodes: []Node,
    count: usize,
    /// Direct-mapped memo (left token << 32 | right token) -> rank of the
    /// pair: long pieces are mostly repetitive, and this saves hashing and
    /// comparing long byte strings. An empty entry has key `memo_empty`,
    /// which no pair has (ranks are below 2^30).
    memo: []Memo,

    const Memo = struct { key: u64, rank: u32 };
    const memo_empty: u64 = std.math.maxInt(u64);

    fn init(v: *const Vocab, gpa: Allocator, text: []const u8, start: usize, n: usize) Error!Parts {
        const nodes = try gpa.alloc(Node, n);
        errdefer gpa.free(nodes);
        var memo_len: usize = 256;
        while (memo_len < 4096 and memo_len < n) memo_len *= 2;
        const memo = try gpa.alloc(Memo, memo_len);
        @memset(memo, .{ .key = memo_empty, .rank = none });
        for (nodes, 0..) |*node, i| node.* = .{
            .end = @intCast(i + 1),
            .prev = if (i > 0) @intCast(i - 1) else none,
            .tok = v.byte_rank[text[start + i]],
            .next_rank = none,
            .bnext = none,
            .bprev = none,
        };
        return .{ .v = v, .text = text, .start = start, .n = n, .nodes = nodes, .count = n, .memo = memo };
    }

    fn deinit(self: *Parts, gpa: Allocator) void {
        gpa.free(self.memo);
        gpa.free(self.nodes);
    }

    /// Pushes the tokens of the parts that start before offset `upto`.
    fn emit(self: *const Parts, upto: usize, sink: anytype) Error!void {
        var i: usize = 0;
        while (i < upto) : (i = self.nodes[i].end) try sink.push(self.nodes[i].tok);
    }

    /// The start of the part that covers offset `pos` (< n).
    fn partAt(self: *const Parts, pos: usize) usize {
        var i: usize = 0;
        while (self.nodes[i].end <= pos) i = self.nodes[i].end;
        return i;
    }

    /// Rank of the live part at `a` joined with the live part at `b`
    /// (which ends at `b_end`), or none.
    inline fn pairRank(self: *Parts, a: usize, b: usize, b_end: usize) u32 {
        const k = @as(u64, self.nodes[a].tok) << 32 | self.nodes[b].tok;
        const m = &self.memo[@intCast(vocab_mod.mix(k, 0x9e3779b97f4a7c15) & (self.memo.len - 1))];
        if (m.key == k) return m.rank;
        const r = self.v.lookup(self.text, self.start + a, b_end - a);
        m.* = .{ .key = k, .rank = r };
        return r;
    }

    /// Joins the part at s with the next one (the current candidate of s has
    /// rank r) and offers the two new candidates to `queue`.
    inline fn merge(self: *Parts, s: usize, r: u32, queue: anytype) Error!void {
        const nodes = self.nodes;
        const right: usize = nodes[s].end;
        const right_end: usize = nodes[right].end;
        nodes[s].tok = r;
        nodes[s].end = @intCast(right_end);
        queue.drop(nodes, @intCast(right), nodes[right].next_rank);
        nodes[right].next_rank = none;
        nodes[s].next_rank = none; // r: being merged, in no bucket
        self.count -= 1;
        if (right_end < self.n) {
            nodes[right_end].prev = @intCast(s);
            const cand = self.pairRank(s, right_end, nodes[right_end].end);
            if (cand != none) {
                nodes[s].next_rank = cand;
                try queue.push(nodes, cand, @intCast(s));
            }
        }
        if (s > 0) {
            const ps: usize = nodes[s].prev;
            const cand = self.pairRank(ps, s, right_end);
            queue.drop(nodes, @intCast(ps), nodes[ps].next_rank);
            nodes[ps].next_rank = cand;
            if (cand != none) try queue.push(nodes, cand, @intCast(ps));
        }
    }
};

inline fn key(rank: u32, pos: u32) u64 {
    return @as(u64, rank) << 32 | pos;
}

/// A binary min-heap of (rank << 32 | start) keys. It never holds more than
/// 2n - 2 entries: n - 1 initial pairs, then each merge pops one and pushes
/// at most two, and there are at most n - 1 merges.
const HeapQueue = struct {
    heap: []u64,
    len: usize = 0,

    fn init(v: *const Vocab, gpa: Allocator, n: usize) Error!HeapQueue {
        _ = v;
        return .{ .heap = try gpa.alloc(u64, 2 * n) };
    }

    fn deinit(self: *HeapQueue, gpa: Allocator) void {
        gpa.free(self.heap);
    }

    /// Replaced candidates stay in the heap and are skipped when popped.
    inline fn drop(self: *HeapQueue, nodes: []Node, pos: u32, rank: u32) void {
        _ = self;
        _ = nodes;
        _ = pos;
        _ = rank;
    }

    inline fn pushInitial(self: *HeapQueue, nodes: []Node, rank: u32, pos: u32) Error!void {
        _ = nodes;
        self.heap[self.len] = key(rank, pos);
        self.len += 1;
    }

    inline fn push(self: *HeapQueue, nodes: []Node, rank: u32, pos: u32) Error!void {
        _ = nodes;
        const e = key(rank, pos);
        const heap = self.heap;
        var i = self.len;
        while (i > 0) {
            const parent = (i - 1) / 2;
            if (heap[parent] <= e) break;
            heap[i] = heap[parent];
            i = parent;
        }
        heap[i] = e;
        self.len += 1;
    }

    fn siftDown(self: *HeapQueue, start_index: usize) void {
        const heap = self.heap[0..self.len];
        var i = start_index;
        const e = heap[i];
        while (true) {
            const l = 2 * i + 1;
            if (l >= heap.len) break;
            var c = l;
            if (l + 1 < heap.len and heap[l + 1] < heap[l]) c = l + 1;
            if (heap[c] >= e) break;
            heap[i] = heap[c];
            i = c;
        }
        heap[i] = e;
    }

    fn run(self: *HeapQueue, parts: *Parts) Error!void {
        var k = self.len / 2;
        while (k > 0) {
            k -= 1;
            self.siftDown(k);
        }
        while (self.len > 0) {
            const top = self.heap[0];
            self.len -= 1;
            if (self.len > 0) {
                self.heap[0] = self.heap[self.len];
                self.siftDown(0);
            }
            const r: u32 = @intCast(top >> 32);
            const s: usize = @intCast(top & 0xffff_ffff);
            if (parts.nodes[s].next_rank != r) continue; // stale
            try parts.merge(s, r, self);
        }
    }
};

/// Candidates bucketed by rank, for long pieces. Ranks are processed in
/// increasing order; the starts of one rank are sorted once and merged left
/// to right. A merge almost always creates candidates of higher rank, which
/// go to their buckets; one of rank <= the current rank (possible with any
/// vocabulary, rare in practice) goes to a small heap that is drained in
/// key order together with the current run. Each position is in at most one
/// bucket (a doubly linked list through the positions; a replaced candidate
/// is unlinked), so buckets hold no stale entries and each rank's bucket is
/// taken out once: one link, one sort and one pop per candidate.
const BucketQueue = struct {
    /// Per rank: first position of its bucket, or none. A bucket is a
    /// doubly linked list through Node.bnext / Node.bprev.
    head: []u32,
    /// Per rank: 1 once the rank went into `ranks`.
    queued: []u8,
    /// Min-heap of ranks with a bucket (each rank enters once).
    ranks: []u32,
    n_ranks: usize = 0,
    /// The sorted starts of the current rank.
    run_buf: []u32,
    /// The rank being processed; candidates of rank <= cur are in the run
    /// or in `urgent`, never in a bucket.
    cur: u32 = 0,
    started: bool = false,
    urgent: std.ArrayList(u64) = .empty,
    gpa: Allocator,
    mem: []u32,
    queued_mem: []u8,

    fn init(v: *const Vocab, gpa: Allocator, n: usize) Error!BucketQueue {
        const n_tokens = v.tokens.len;
        const mem = try gpa.alloc(u32, 2 * n_tokens + n);
        errdefer gpa.free(mem);
        const queued = try gpa.alloc(u8, n_tokens);
        const head = mem[0..n_tokens];
        @memset(head, none);
        @memset(queued, 0);
        return .{
            .head = head,
            .queued = queued,
            .ranks = mem[n_tokens .. 2 * n_tokens],
            .run_buf = mem[2 * n_tokens ..][0..n],
            .gpa = gpa,
            .mem = mem,
            .queued_mem = queued,
        };
    }

    fn deinit(self: *BucketQueue, gpa: Allocator) void {
        gpa.free(self.queued_mem);
        gpa.free(self.mem);
        self.urgent.deinit(gpa);
    }

    inline fn inBucket(self: *const BucketQueue, rank: u32) bool {
        return rank != none and (!self.started or rank > self.cur);
    }

    inline fn drop(self: *BucketQueue, nodes: []Node, pos: u32, rank: u32) void {
        if (!self.inBucket(rank)) return;
        const p = nodes[pos].bprev;
        const nx = nodes[pos].bnext;
        if (p == none) self.head[rank] = nx else nodes[p].bnext = nx;
        if (nx != none) nodes[nx].bprev = p;
    }

    inline fn pushInitial(self: *BucketQueue, nodes: []Node, rank: u32, pos: u32) Error!void {
        return self.push(nodes, rank, pos);
    }

    inline fn push(self: *BucketQueue, nodes: []Node, rank: u32, pos: u32) Error!void {
        if (!self.inBucket(rank)) return self.pushUrgent(rank, pos);
        const h = self.head[rank];
        nodes[pos].bnext = h;
        nodes[pos].bprev = none;
        if (h != none) nodes[h].bprev = pos;
        self.head[rank] = pos;
        if (self.queued[rank] == 0) {
            self.queued[rank] = 1;
            self.pushRank(rank);
        }
    }

    fn pushUrgent(self: *BucketQueue, rank: u32, pos: u32) Error!void {
        @branchHint(.unlikely);
        try self.urgent.append(self.gpa, key(rank, pos));
        const h = self.urgent.items;
        var i = h.len - 1;
        const e = h[i];
        while (i > 0) {
            const parent = (i - 1) / 2;
            if (h[parent] <= e) break;
            h[i] = h[parent];
            i = parent;
        }
        h[i] = e;
    }

    fn popUrgent(self: *BucketQueue) u64 {
        const h = self.urgent.items;
        const top = h[0];
        const last = h[h.len - 1];
        const len = h.len - 1;
        self.urgent.items.len = len;
        if (len > 0) siftDownU64(h[0..len], last);
        return top;
    }

    inline fn pushRank(self: *BucketQueue, rank: u32) void {
        const h = self.ranks;
        var i = self.n_ranks;
        while (i > 0) {
            const parent = (i - 1) / 2;
            if (h[parent] <= rank) break;
            h[i] = h[parent];
            i = parent;
        }
        h[i] = rank;
        self.n_ranks += 1;
    }

    fn popRank(self: *BucketQueue) u32 {
        const h = self.ranks;
        const top = h[0];
        self.n_ranks -= 1;
        const len = self.n_ranks;
        if (len > 0) {
            const last = h[len];
            var i: usize = 0;
            while (true) {
                const l = 2 * i + 1;
                if (l >= len) break;
                var c = l;
                if (l + 1 < len and h[l + 1] < h[l]) c = l + 1;
                if (h[c] >= last) break;
                h[i] = h[c];
                i = c;
            }
            h[i] = last;
        }
        return top;
    }

    fn run(self: *BucketQueue, parts: *Parts) Error!void {
        const nodes = parts.nodes;
        while (self.n_ranks > 0) {
            const r = self.popRank();
            // Take the bucket out, sorted by start (it lists the most
            // recently linked first, and links come mostly left to right).
            var m: usize = 0;
            var p = self.head[r];
            while (p != none) : (p = nodes[p].bnext) {
                self.run_buf[m] = p;
                m += 1;
            }
            self.head[r] = none;
            self.cur = r;
            self.started = true;
            const run_items = self.run_buf[0..m];
            std.mem.reverse(u32, run_items);
            if (!std.sort.isSorted(u32, run_items, {}, std.sort.asc(u32))) {
                std.sort.pdq(u32, run_items, {}, std.sort.asc(u32));
            }
            // Merge the run and the urgent heap in key order.
            var i: usize = 0;
            while (true) {
                var s: u32 = undefined;
                var rank: u32 = undefined;
                if (self.urgent.items.len > 0 and (i >= m or self.urgent.items[0] < key(r, run_items[i]))) {
                    const e = self.popUrgent();
                    rank = @intCast(e >> 32);
                    s = @truncate(e);
                } else if (i < m) {
                    s = run_items[i];
                    rank = r;
                    i += 1;
                } else break;
                if (nodes[s].next_rank != rank) continue; // replaced
                try parts.merge(s, rank, self);
            }
        }
    }
};

/// Sift `e` down from the root of the heap `h` (whose root slot is free).
fn siftDownU64(h: []u64, e: u64) void {
    var i: usize = 0;
    while (true) {
        const l = 2 * i + 1;
        if (l >= h.len) break;
        var c = l;
        if (l + 1 < h.len and h[l + 1] < h[l]) c = l + 1;
        if (h[c] >= e) break;
        h[i] = h[c];
        i = c;
    }
    h[i] = e;
}

// ---- tests ---------------------------------------------------------------

const testing = std.testing;

/// The reference: tiktoken's quadratic merge, written as plainly as possible
/// (tiktoken looks the whole piece up first; `mergeLarge` alone does not).
fn referenceMerge(gpa: Allocator, v: *const Vocab, piece: []const u8, whole_first: bool) ![]u32 {
    if (whole_first) {
        const r = v.lookup(piece, 0, piece.len);
        if (r != none) {
            const out = try gpa.alloc(u32, 1);
            out[0] = r;
            return out;
        }
    }
    var bounds: std.ArrayList(usize) = .empty;
    defer bounds.deinit(gpa);
    for (0..piece.len + 1) |i| try bounds.append(gpa, i);
    while (true) {
        var best: u32 = none;
        var bi: usize = 0;
        for (0..bounds.items.len - 2) |i| {
            const r = v.lookup(piece, bounds.items[i], bounds.items[i + 2] - bounds.items[i]);
            if (r < best) {
                best = r;
                bi = i;
            }
        }
        if (best == none) break;
        _ = bounds.orderedRemove(bi + 1);
    }
    const out = try gpa.alloc(u32, bounds.items.len - 1);
    for (out, 0..) |*o, i| o.* = v.lookup(piece, bounds.items[i], bounds.items[i + 1] - bounds.items[i]);
    return out;
}

const Route = enum { piece, heap, bucket, windowed };

fn encodeVia(comptime route: Route, gpa: Allocator, v: *const Vocab, piece: []const u8, sink: anytype, cache: *PieceCache) !void {
    switch (route) {
        .piece => try encodePiece(v, gpa, piece, 0, piece.len, sink, cache),
        .heap => try mergeWith(HeapQueue, v, gpa, piece, 0, piece.len, sink),
        .bucket => try mergeWith(BucketQueue, v, gpa, piece, 0, piece.len, sink),
        // Tiny windows, so test pieces span many of them.
        .windowed => try mergeWindowed(v, gpa, piece, 0, piece.len, sink, 24, 5),
    }
}

fn encodeAll(gpa: Allocator, v: *const Vocab, piece: []const u8, comptime route: Route) ![]u32 {
    const out = try gpa.alloc(u32, piece.len);
    errdefer gpa.free(out);
    var sink: IdSink(true) = .{ .out = out };
    var cache: PieceCache = .{};
    try encodeVia(route, gpa, v, piece, &sink, &cache);
    var counter: CountSink = .{};
    try encodeVia(route, gpa, v, piece, &counter, &cache);
    try testing.expectEqual(sink.n, counter.n);
    return gpa.realloc(out, sink.n);
}

fn expectSameAsReference(v: *const Vocab, piece: []const u8) !void {
    const gpa = testing.allocator;
    const want = try referenceMerge(gpa, v, piece, true);
    defer gpa.free(want);
    const got = try encodeAll(gpa, v, piece, .piece);
    defer gpa.free(got);
    try testing.expectEqualSlices(u32, want, got);
    if (piece.len >= 2) {
        const want_merged = try referenceMerge(gpa, v, piece, false);
        defer gpa.free(want_merged);
        inline for (.{ Route.heap, Route.bucket, Route.windowed }) |route| {
            const got_large = try encodeAll(gpa, v, piece, route);
            defer gpa.free(got_large);
            try testing.expectEqualSlices(u32, want_merged, got_large);
        }
    }
}

test "merges follow rank order, leftmost on ties" {
    const gpa = testing.allocator;
    // 256 ab, 257 aa, 258 aaa, 259 bc, 260 abc, 261 aab
    const file = try vocab_mod.testRankFile(gpa, &.{ "ab", "aa", "aaa", "bc", "abc", "aab" });
    defer gpa.free(file);
    var diag: vocab_mod.Diagnostic = .{};
    var v = try Vocab.init(gpa, file, &diag);
    defer v.deinit(gpa);

    const cases = [_]struct { []const u8, []const u32 }{
        .{ "a", &.{'a'} },
        .{ "ab", &.{256} },
        .{ "abc", &.{260} },
        .{ "aaa", &.{258} }, // whole piece
        .{ "aaaa", &.{ 257, 257 } }, // leftmost aa first, then aa
        .{ "aaaaa", &.{ 257, 258 } }, // aa aa a, then aa+a = aaa
        .{ "aab", &.{261} }, // a whole-piece token wins...
        .{ "aabc", &.{ 'a', 260 } }, // ...but merges never form aab: ab (256) beats aa (257)
        .{ "abca", &.{ 260, 'a' } },
        .{ "xbcab", &.{ 'x', 259, 256 } },
    };
    for (cases) |c| {
        const got = try encodeAll(gpa, &v, c[0], .piece);
        defer gpa.free(got);
        try testing.expectEqualSlices(u32, c[1], got);
        try expectSameAsReference(&v, c[0]);
    }
}

test "small and large merges agree with the reference on random pieces" {
    const gpa = testing.allocator;
    const file = try vocab_mod.testRankFile(gpa, &.{ "ab", "ba", "aa", "bb", "aba", "abab", "bab", "aaa", "aaaa", "bbb", "abb", "ca", "cab", "bca", "abca", "aab", "baab", "cc", "ccc", "cccccccccc", "abababababab" });
    defer gpa.free(file);
    var diag: vocab_mod.Diagnostic = .{};
    var v = try Vocab.init(gpa, file, &diag);
    defer v.deinit(gpa);

    var prng = std.Random.DefaultPrng.init(0x5eed);
    const rnd = prng.random();
    var buf: [300]u8 = undefined;
    for (0..400) |_| {
        const len = rnd.intRangeAtMost(usize, 1, buf.len);
        const alphabet_len = rnd.intRangeAtMost(usize, 1, 4);
        for (buf[0..len]) |*b| b.* = "abcd"[rnd.uintLessThan(usize, alphabet_len)];
        try expectSameAsReference(&v, buf[0..len]);
    }
}

test "random vocabularies (merge ranks out of order) agree with the reference" {
    // Tokens in random rank order, so a merge often creates a candidate of
    // lower rank than its own (the bucket queue's urgent path).
    const gpa = testing.allocator;
    var prng = std.Random.DefaultPrng.init(42);
    const rnd = prng.random();
    for (0..12) |_| {
        var toks: std.ArrayList([]const u8) = .empty;
        defer {
            for (toks.items) |t| gpa.free(t);
            toks.deinit(gpa);
        }
        var seen = std.StringHashMap(void).init(gpa);
        defer seen.deinit();
        while (toks.items.len < 80) {
            const len = rnd.intRangeAtMost(usize, 2, 7);
            const t = try gpa.alloc(u8, len);
            for (t) |*b| b.* = "abc"[rnd.uintLessThan(usize, 3)];
            if (seen.contains(t)) {
                gpa.free(t);
                continue;
            }
            try seen.put(t, {});
            try toks.append(gpa, t);
        }
        const file = try vocab_mod.testRankFile(gpa, toks.items);
        defer gpa.free(file);
        var diag: vocab_mod.Diagnostic = .{};
        var v = try Vocab.init(gpa, file, &diag);
        defer v.deinit(gpa);
        var buf: [200]u8 = undefined;
        for (0..60) |_| {
            const len = rnd.intRangeAtMost(usize, 1, buf.len);
            for (buf[0..len]) |*b| b.* = "abc"[rnd.uintLessThan(usize, 3)];
            try expectSameAsReference(&v, buf[0..len]);
        }
    }
}

test "out of memory in a long piece is an error, not a crash" {
    const gpa = testing.allocator;
    const file = try vocab_mod.testRankFile(gpa, &.{"aa"});
    defer gpa.free(file);
    var diag: vocab_mod.Diagnostic = .{};
    var v = try Vocab.init(gpa, file, &diag);
    defer v.deinit(gpa);
    const piece = "a" ** 300;
    var failing = std.testing.FailingAllocator.init(gpa, .{ .fail_index = 0 });
    var counter: CountSink = .{};
    var cache: PieceCache = .{};
    try testing.expectError(error.OutOfMemory, encodePiece(&v, failing.allocator(), piece, 0, piece.len, &counter, &cache));
}

test "encode buffer bounds and decode" {
    const gpa = testing.allocator;
    const file = try vocab_mod.testRankFile(gpa, &.{ "ab", "abc" });
    defer gpa.free(file);
    var diag: vocab_mod.Diagnostic = .{};
    const tok = try Tokenizer.init(gpa, .cl100k_base, file, &diag);
    defer tok.deinit();

    // With the placeholder pre-tokenizer any text works; with the real one
    // "abcab" is still one piece.
    const text = "abcab";
    var ids: [8]u32 = undefined;
    const n = try tok.encode(text, &ids);
    try testing.expectEqual(n, try tok.count(text));
    try testing.expectError(error.BufferTooSmall, tok.encode(text, ids[0 .. n - 1]));
    try testing.expectEqual(n, try tok.encode(text, ids[0..n]));
    try testing.expectEqual(@as(usize, 0), try tok.count(""));

    var out: [16]u8 = undefined;
    var bad: u32 = 0;
    try testing.expectEqual(@as(usize, 5), try tok.decode(ids[0..n], &out, &bad));
    try testing.expectEqualStrings(text, out[0..5]);
    try testing.expectEqual(@as(usize, 5), try tok.decode(ids[0..n], out[0..2], &bad));
    try testing.expectEqual(@as(usize, 0), try tok.decode(&.{}, &.{}, &bad));
    try testing.expectError(error.InvalidToken, tok.decode(&.{ 1, 258 }, &out, &bad));
    try testing.expectEqual(@as(u32, 258), bad);
    try testing.expectError(error.InvalidToken, tok.decode(&.{none}, &out, &bad));
}

test "whole texts (piece cache, all routes) match the reference piece by piece" {
    const gpa = testing.allocator;
    const file = try vocab_mod.testRankFile(gpa, &.{ "ab", "ba", "aa", " a", " b", "aba", "bab", "abab", " ab", " ba", "  ", "    ", "\n\n", "cab", "ca", "ac", "bc" });
    defer gpa.free(file);
    var diag: vocab_mod.Diagnostic = .{};
    const tok = try Tokenizer.init(gpa, .o200k_base, file, &diag);
    defer tok.deinit();
    const v = &tok.vocab;

    var prng = std.Random.DefaultPrng.init(99);
    const rnd = prng.random();
    var text: std.ArrayList(u8) = .empty;
    defer text.deinit(gpa);
    for (0..6) |round| {
        text.clearRetainingCapacity();
        // Words drawn from a small set recur, so the cache gets hits.
        const words = [_][]const u8{ "abcab", "babab", "cabbage", "aaaa", "b", "ab", "cc", "abcabcabcabcabcab" };
        while (text.items.len < 3000 + round * 1000) {
            switch (rnd.uintLessThan(u8, 10)) {
                0 => try text.appendNTimes(gpa, ' ', rnd.intRangeAtMost(usize, 1, 6)),
                1 => try text.append(gpa, '\n'),
                2 => try text.appendSlice(gpa, ", "),
                3 => try text.appendNTimes(gpa, 'a', rnd.intRangeAtMost(usize, 20, 400)),
                else => {
                    try text.append(gpa, ' ');
                    try text.appendSlice(gpa, words[rnd.uintLessThan(usize, words.len)]);
                },
            }
        }
        const t = text.items;
        var want: std.ArrayList(u32) = .empty;
        defer want.deinit(gpa);
        var pos: usize = 0;
        while (pos < t.len) {
            const end = pretokenize.pieceEnd(tok.encoding, t, pos);
            const ids = try referenceMerge(gpa, v, t[pos..end], true);
            defer gpa.free(ids);
            try want.appendSlice(gpa, ids);
            pos = end;
        }
        const got = try gpa.alloc(u32, t.len);
        defer gpa.free(got);
        const n = try tok.encode(t, got);
        try testing.expectEqualSlices(u32, want.items, got[0..n]);
        try testing.expectEqual(n, try tok.count(t));
        const back = try gpa.alloc(u8, t.len);
        defer gpa.free(back);
        var bad: u32 = 0;
        try testing.expectEqual(t.len, try tok.decode(got[0..n], back, &bad));
        try testing.expectEqualStrings(t, back);
    }
}

test "windowed merges of long pieces equal one merge of the whole piece" {
    const gpa = testing.allocator;
    var prng = std.Random.DefaultPrng.init(7);
    const rnd = prng.random();
    for (0..8) |round| {
        // Ordered and shuffled ranks; the shuffled ones make the right
        // context reach back further, so windows disagree and grow.
        var toks: std.ArrayList([]const u8) = .empty;
        defer {
            for (toks.items) |t| gpa.free(t);
            toks.deinit(gpa);
        }
        var seen = std.StringHashMap(void).init(gpa);
        defer seen.deinit();
        while (toks.items.len < 120) {
            const len = rnd.intRangeAtMost(usize, 2, 12);
            const t = try gpa.alloc(u8, len);
            for (t) |*b| b.* = "ab"[rnd.uintLessThan(usize, 2)];
            if (seen.contains(t)) {
                gpa.free(t);
                continue;
            }
            try seen.put(t, {});
            try toks.append(gpa, t);
        }
        if (round % 2 == 0) std.mem.sort([]const u8, toks.items, {}, struct {
            fn shorter(_: void, l: []const u8, r: []const u8) bool {
                return l.len < r.len;
            }
        }.shorter);
        const file = try vocab_mod.testRankFile(gpa, toks.items);
        defer gpa.free(file);
        var diag: vocab_mod.Diagnostic = .{};
        var v = try Vocab.init(gpa, file, &diag);
        defer v.deinit(gpa);
        const piece = try gpa.alloc(u8, 3000 + round * 500);
        defer gpa.free(piece);
        for (piece) |*b| b.* = if (round == 7) 'a' else "ab"[rnd.uintLessThan(usize, 2)];
        var whole: std.ArrayList(u32) = .empty;
        defer whole.deinit(gpa);
        {
            const out = try gpa.alloc(u32, piece.len);
            defer gpa.free(out);
            var sink: IdSink(true) = .{ .out = out };
            try mergeWith(HeapQueue, &v, gpa, piece, 0, piece.len, &sink);
            try whole.appendSlice(gpa, out[0..sink.n]);
        }
        for ([_][2]usize{ .{ 16, 3 }, .{ 64, 8 }, .{ 200, 40 }, .{ 1000, 100 } }) |shape| {
            const out = try gpa.alloc(u32, piece.len);
            defer gpa.free(out);
            var sink: IdSink(true) = .{ .out = out };
            try mergeWindowed(&v, gpa, piece, 0, piece.len, &sink, shape[0], shape[1]);
            try testing.expectEqualSlices(u32, whole.items, out[0..sink.n]);
            var counter: CountSink = .{};
            try mergeWindowed(&v, gpa, piece, 0, piece.len, &counter, shape[0], shape[1]);
            try testing.expectEqual(whole.items.len, counter.n);
        }
    }
}

test "out of memory anywhere in a windowed merge is an error and leaks nothing" {
    const gpa = testing.allocator;
    const file = try vocab_mod.testRankFile(gpa, &.{ "ab", "ba", "aa", "bb", "aab", "bba", "abab" });
    defer gpa.free(file);
    var diag: vocab_mod.Diagnostic = .{};
    var v = try Vocab.init(gpa, file, &diag);
    defer v.deinit(gpa);
    var piece: [400]u8 = undefined;
    var prng = std.Random.DefaultPrng.init(3);
    for (&piece) |*b| b.* = "ab"[prng.random().uintLessThan(usize, 2)];
    var fail_index: usize = 0;
    while (true) : (fail_index += 1) {
        var failing = std.testing.FailingAllocator.init(gpa, .{ .fail_index = fail_index });
        const out = try gpa.alloc(u32, piece.len);
        defer gpa.free(out);
        var sink: IdSink(true) = .{ .out = out };
        if (mergeWindowed(&v, failing.allocator(), &piece, 0, piece.len, &sink, 24, 5)) |_| {
            try testing.expect(fail_index > 0);
            break;
        } else |err| try testing.expectEqual(error.OutOfMemory, err);
    }
}
