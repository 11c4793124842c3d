//! tiktoken's pre-tokenizer: the regex split that runs before BPE, written by
//! hand for cl100k_base and o200k_base. It gives exactly the pieces of
//! tiktoken 0.14.0 (fancy-regex, Unicode 16.0) and of Python `regex` 2024.11.6
//! `findall(pat_str, text)`, the oracle of tests/differential/test_pretokenize.py.
//!
//! The patterns (tiktoken_ext/openai_public.py):
//!
//!   cl100k_base: '(?i:[sdmt]|ll|ve|re)|[^\r\n\p{L}\p{N}]?+\p{L}++|\p{N}{1,3}+
//!                | ?[^\s\p{L}\p{N}]++[\r\n]*+|\s++$|\s*[\r\n]|\s+(?!\S)|\s
//!
//!   o200k_base:  [^\r\n\p{L}\p{N}]?[U]*[W]+C?|[^\r\n\p{L}\p{N}]?[U]+[W]*C?
//!                |\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+
//!     with U = [\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}], W = [\p{Ll}\p{Lm}\p{Lo}\p{M}],
//!          C = (?i:'s|'t|'re|'ve|'m|'ll|'d)
//!
//! Every position starts a match of some alternative, so the pieces tile the
//! text. Each alternative is resolved in closed form instead of by
//! backtracking (see the comments at each one); every call looks at its own
//! piece plus at most the rest of a whitespace or letter run that the next
//! one or two pieces consume, so splitting a whole text is linear time.
//!
//! Invalid UTF-8 (Python never sends it, but no input may crash or loop):
//! each byte that does not start a well-formed sequence is one character that
//! is neither letter, number nor space, i.e. it behaves like punctuation.

const std = @import("std");
const tables = @import("unicode_tables.zig");

pub const Encoding = enum(u32) { cl100k_base = 0, o200k_base = 1 };

const L = tables.letter;
const N = tables.number;
const S = tables.space;
const U = tables.upper;
const W = tables.lower;
const NL = tables.newline;

/// Class bits and UTF-8 length (1..4) of the character at some position.
const Char = struct { cls: u8, len: u8 };

/// The class bits of the code point `cp` (at most U+10FFFF).
pub fn classOf(cp: u21) u8 {
    const block: usize = tables.stage1[cp >> tables.block_shift];
    return tables.stage2[(block << tables.block_shift) | (cp & tables.block_mask)];
}

/// The character at `i`; requires i < text.len.
inline fn charAt(text: []const u8, i: usize) Char {
    const b = text[i];
    if (b < 0x80) return .{ .cls = tables.ascii[b], .len = 1 };
    return decodeNonAscii(text, i);
}

fn decodeNonAscii(text: []const u8, i: usize) Char {
    const invalid: Char = .{ .cls = 0, .len = 1 };
    const b0 = text[i];
    const rest = text.len - i;
    if (b0 < 0xC2) return invalid; // continuation byte or overlong lead
    if (b0 < 0xE0) {
        if (rest < 2) return invalid;
        const b1 = text[i + 1];
        if (b1 & 0xC0 != 0x80) return invalid;
        const cp = (@as(u21, b0 & 0x1F) << 6) | (b1 & 0x3F);
        return .{ .cls = classOf(cp), .len = 2 };
    }
    if (b0 < 0xF0) {
        if (rest < 3) return invalid;
        const b1 = text[i + 1];
        const b2 = text[i + 2];
        // E0 needs A0.. (no overlongs); ED stops at 9F (no surrogates).
        const lo: u8 = if (b0 == 0xE0) 0xA0 else 0x80;
        const hi: u8 = if (b0 == 0xED) 0x9F else 0xBF;
        if (b1 < lo or b1 > hi or b2 & 0xC0 != 0x80) return invalid;
        const cp = (@as(u21, b0 & 0x0F) << 12) | (@as(u21, b1 & 0x3F) << 6) | (b2 & 0x3F);
        return .{ .cls = classOf(cp), .len = 3 };
    }
    if (b0 < 0xF5) {
        if (rest < 4) return invalid;
        const b1 = text[i + 1];
        const b2 = text[i + 2];
        const b3 = text[i + 3];
        // F0 needs 90.. (no overlongs); F4 stops at 8F (max U+10FFFF).
        const lo: u8 = if (b0 == 0xF0) 0x90 else 0x80;
        const hi: u8 = if (b0 == 0xF4) 0x8F else 0xBF;
        if (b1 < lo or b1 > hi or b2 & 0xC0 != 0x80 or b3 & 0xC0 != 0x80) return invalid;
        const cp = (@as(u21, b0 & 0x07) << 18) | (@as(u21, b1 & 0x3F) << 12) |
            (@as(u21, b2 & 0x3F) << 6) | (b3 & 0x3F);
        return .{ .cls = classOf(cp), .len = 4 };
    }
    return invalid;
}

const V = @Vector(16, u8);

/// For the class masks with a simple ASCII shape, the bitmask of the 16
/// bytes in `v` that are ASCII characters of that class; null otherwise.
inline fn asciiVectorMatch(comptime mask: u8, v: V) ?u16 {
    const lower_a: V = @splat('a');
    const upper_a: V = @splat('A');
    const letters: V = @splat(26);
    switch (mask) {
        // Bytes >= 0x80 fall outside every range, so they stop the run.
        L => return @bitCast(((v | @as(V, @splat(0x20))) -% lower_a) < letters),
        U => return @bitCast((v -% upper_a) < letters),
        W => return @bitCast((v -% lower_a) < letters),
        else => return null,
    }
}

/// Bitmasks of the ASCII whitespace (\t..\r, space) and of \r/\n in `v`.
inline fn asciiSpaceMasks(v: V) struct { spaces: u16, newlines: u16 } {
    const tab_to_cr = (v -% @as(V, @splat('\t'))) < @as(V, @splat(5));
    return .{
        .spaces = @as(u16, @bitCast(tab_to_cr)) | @as(u16, @bitCast(v == @as(V, @splat(' ')))),
        .newlines = @as(u16, @bitCast(v == @as(V, @splat('\n')))) | @as(u16, @bitCast(v == @as(V, @splat('\r')))),
    };
}

/// End of the run of ASCII characters from `p` whose class has any bit of
/// `mask`; stops at the first other ASCII byte or any non-ASCII byte.
inline fn skipAscii(text: []const u8, p0: usize, comptime mask: u8) usize {
    var p = p0;
    if (comptime asciiVectorMatch(mask, @splat(0)) != null) {
        while (p + 16 <= text.len) {
            const v: V = text[p..][0..16].*;
            const hits = asciiVectorMatch(mask, v).?;
            if (hits != 0xFFFF) return p + @ctz(~hits);
            p += 16;
        }
    }
    while (p < text.len) : (p += 1) {
        const b = text[p];
        if (b >= 0x80 or tables.ascii[b] & mask == 0) break;
    }
    return p;
}

/// End of the run of characters from `p` whose class has any bit of `mask`.
inline fn skipAny(text: []const u8, p0: usize, comptime mask: u8) usize {
    var p = skipAscii(text, p0, mask);
    while (p < text.len) {
        const b = text[p];
        if (b < 0x80) {
            if (tables.ascii[b] & mask == 0) return p;
            // Back to the vector scan only after an ASCII byte, so runs of
            // non-ASCII letters do not pay for a vector load per character.
            p = skipAscii(text, p + 1, mask);
        } else {
            const c = decodeNonAscii(text, p);
            if (c.cls & mask == 0) return p;
            p += c.len;
        }
    }
    return p;
}

/// End of the run of [^\s\p{L}\p{N}] from `p`.
inline fn skipPunct(text: []const u8, p0: usize) usize {
    var p = p0;
    while (p < text.len) {
        const b = text[p];
        if (b < 0x80) {
            if (tables.ascii[b] & (S | L | N) != 0) break;
            p += 1;
        } else {
            const c = decodeNonAscii(text, p);
            if (c.cls & (S | L | N) != 0) break;
            p += c.len;
        }
    }
    return p;
}

/// End of the run of [\r\n]* from `p`, or of [\r\n/]* with `slash`.
inline fn skipNewlines(text: []const u8, p0: usize, comptime slash: bool) usize {
    var p = p0;
    while (p < text.len) : (p += 1) {
        const b = text[p];
        if (!(b == '\r' or b == '\n' or (slash and b == '/'))) break;
    }
    return p;
}

/// \p{N}{1,3} after the first digit, which ends at `p`.
inline fn digitsEnd(text: []const u8, p0: usize) usize {
    var p = p0;
    var count: u32 = 1;
    while (count < 3 and p < text.len) : (count += 1) {
        const c = charAt(text, p);
        if (c.cls & N == 0) break;
        p += c.len;
    }
    return p;
}

/// Bytes of one character at `p` that (?i) matches with the ASCII letter
/// `letter` (lowercase), or 0.
inline fn foldLen(text: []const u8, p: usize, comptime letter: u8) usize {
    if (p >= text.len) return 0;
    const b = text[p];
    if (b | 0x20 == letter) return 1; // a-z only: just the two ASCII cases
    if (b < 0x80) return 0;
    inline for (tables.contraction_folds) |fold| {
        if (fold.letter == letter and std.mem.startsWith(u8, text[p..], fold.utf8)) return fold.utf8.len;
    }
    return 0;
}

/// The contraction after an apostrophe that ends at `p`: (?i:[sdmt]|ll|ve|re),
/// which is also the set of o200k's (?i:'s|'t|'re|'ve|'m|'ll|'d). Returns the
/// end of the contraction, or 0 when there is none.
fn contractionEnd(text: []const u8, p: usize) usize {
    inline for ("sdmt") |letter| {
        const n = foldLen(text, p, letter);
        if (n != 0) return p + n;
    }
    inline for (.{ "ll", "ve", "re" }) |pair| {
        const n1 = foldLen(text, p, pair[0]);
        if (n1 != 0) {
            const n2 = foldLen(text, p + n1, pair[1]);
            if (n2 != 0) return p + n1 + n2;
        }
    }
    return 0;
}

/// The whitespace alternatives, once every earlier one failed at a space
/// character at `start`. With the run of \s at [start, end):
///  - cl100k \s++$ : the whole run when it reaches the end of the text;
///  - \s*[\r\n] (cl100k) and \s*[\r\n]+ (o200k): \s* backs off to the LAST
///    \r or \n of the run, and the [\r\n]+ after it cannot extend past that
///    last one, so both end right after it;
///  - \s+(?!\S): the whole run at the end of the text, else the run minus its
///    last character (which is followed by a non-space), if that leaves one;
///  - \s / \s+: the single character that is left.
/// o200k has no \s++$ and tries \s*[\r\n]+ first.
inline fn whitespaceEnd(text: []const u8, start: usize, comptime encoding: Encoding) usize {
    var p = start;
    var last_start = start;
    var newline_end: usize = 0; // 0: none (a real end is always > start)
    while (p < text.len) {
        if (p + 16 <= text.len) {
            // 16 bytes at a time while the run is ASCII (indentation).
            const v: V = text[p..][0..16].*;
            const masks = asciiSpaceMasks(v);
            const run: u5 = @intCast(@ctz(~@as(u32, masks.spaces))); // bits 16.. set: <= 16
            if (run != 0) {
                const in_run = @as(u32, masks.newlines) & ((@as(u32, 1) << run) - 1);
                if (in_run != 0) newline_end = p + 32 - @clz(in_run);
                last_start = p + run - 1;
                p += run;
            }
            if (run == 16) continue;
            if (v[run] < 0x80) break; // an ASCII non-space ends the run
        }
        const c = charAt(text, p);
        if (c.cls & S == 0) break;
        last_start = p;
        p += c.len;
        if (c.cls & NL != 0) newline_end = p;
    }
    switch (encoding) {
        .cl100k_base => {
            if (p == text.len) return p;
            if (newline_end != 0) return newline_end;
        },
        .o200k_base => {
            if (newline_end != 0) return newline_end;
            if (p == text.len) return p;
        },
    }
    if (last_start > start) return last_start;
    return p;
}

fn cl100kEnd(text: []const u8, start: usize) usize {
    const c0 = charAt(text, start);
    const p1 = start + c0.len;
    // '(?i:[sdmt]|ll|ve|re)
    if (text[start] == '\'') {
        const e = contractionEnd(text, p1);
        if (e != 0) return e;
    }
    // [^\r\n\p{L}\p{N}]?+\p{L}++ (possessive or not, the same here: the
    // optional character is never a letter).
    if (c0.cls & L != 0) return skipAny(text, p1, L);
    if (c0.cls & (N | NL) == 0 and p1 < text.len) {
        const c1 = charAt(text, p1);
        if (c1.cls & L != 0) return skipAny(text, p1 + c1.len, L);
    }
    // \p{N}{1,3}+
    if (c0.cls & N != 0) return digitsEnd(text, p1);
    // ' ?[^\s\p{L}\p{N}]++[\r\n]*+': c0 is no letter or number here, so a
    // non-space is punctuation; a space needs punctuation after it.
    if (c0.cls & S == 0) return skipNewlines(text, skipPunct(text, p1), false);
    if (text[start] == ' ' and p1 < text.len) {
        const c1 = charAt(text, p1);
        if (c1.cls & (S | L | N) == 0) return skipNewlines(text, skipPunct(text, p1 + c1.len), false);
    }
    return whitespaceEnd(text, start, .cl100k_base);
}

/// o200k's [U]*[W]+ from `p0`, or null. U* first takes the whole U run; if
/// a W follows it, W+ takes the W run. Otherwise U* backs off: W+ then needs
/// a character of the U run that is also W (Lm, Lo, M), and the last such
/// one gives the longest match; the character after it is not W, so W+ ends
/// right after it.
inline fn upperLowerEnd(text: []const u8, p0: usize) ?usize {
    // Fast path: ASCII has no character in both U (A-Z) and W (a-z), so when
    // the uppercase run and the lowercase run after it end at an ASCII byte
    // within 16 bytes, that byte decides.
    if (p0 + 16 <= text.len) {
        const v: V = text[p0..][0..16].*;
        const not_upper = ~@as(u32, asciiVectorMatch(U, v).?);
        const not_lower = ~@as(u32, asciiVectorMatch(W, v).?);
        // Bits 16.. of both masks are set, so each count is at most 16.
        const n_upper: u5 = @intCast(@ctz(not_upper));
        const stop: usize = @as(usize, n_upper) + @ctz(not_lower >> n_upper);
        if (stop < 16 and v[stop] < 0x80) {
            if (stop > n_upper) return p0 + stop;
            return null;
        }
    }
    var p = p0;
    var last_w_end: usize = 0; // 0: none (a real end is always > p0)
    while (true) {
        p = skipAscii(text, p, U); // ASCII has no character in both U and W
        if (p >= text.len) break;
        const c = charAt(text, p);
        if (c.cls & U == 0) {
            if (c.cls & W != 0) return skipAny(text, p + c.len, W);
            break;
        }
        p += c.len;
        if (c.cls & W != 0) last_w_end = p;
    }
    if (last_w_end != 0) return last_w_end;
    return null;
}

/// o200k's optional contraction suffix C? after a word ending at `e`.
inline fn suffixEnd(text: []const u8, e: usize) usize {
    if (e < text.len and text[e] == '\'') {
        const c = contractionEnd(text, e + 1);
        if (c != 0) return c;
    }
    return e;
}

fn o200kEnd(text: []const u8, start: usize) usize {
    const c0 = charAt(text, start);
    const p1 = start + c0.len;
    // The optional [^\r\n\p{L}\p{N}] is greedy but not possessive: a
    // prefixed match is tried first, then one starting at c0 itself (c0 can
    // be both the prefix and part of the word when it is a mark).
    const prefix = c0.cls & (L | N | NL) == 0;
    // [^\r\n\p{L}\p{N}]?[U]*[W]+C?
    if (prefix) {
        if (upperLowerEnd(text, p1)) |e| return suffixEnd(text, e);
    }
    if (c0.cls & (U | W) != 0) {
        if (upperLowerEnd(text, start)) |e| return suffixEnd(text, e);
    }
    // [^\r\n\p{L}\p{N}]?[U]+[W]*C?
    if (prefix and p1 < text.len) {
        const c1 = charAt(text, p1);
        if (c1.cls & U != 0) return suffixEnd(text, skipAny(text, skipAny(text, p1 + c1.len, U), W));
    }
    if (c0.cls & U != 0) return suffixEnd(text, skipAny(text, skipAny(text, p1, U), W));
    // Every letter and mark matched above, so c0 is a number, punctuation
    // or a space from here on.
    // \p{N}{1,3}
    if (c0.cls & N != 0) return digitsEnd(text, p1);
    // ' ?[^\s\p{L}\p{N}]+[\r\n/]*'
    if (c0.cls & S == 0) return skipNewlines(text, skipPunct(text, p1), true);
    if (text[start] == ' ' and p1 < text.len) {
        const c1 = charAt(text, p1);
        if (c1.cls & (S | L | N) == 0) return skipNewlines(text, skipPunct(text, p1 + c1.len), true);
    }
    return whitespaceEnd(text, start, .o200k_base);
}

/// End (exclusive) of the piece that starts at `start` (start < text.len);
/// always > start.
pub fn pieceEnd(encoding: Encoding, text: []const u8, start: usize) usize {
    return switch (encoding) {
        .cl100k_base => cl100kEnd(text, start),
        .o200k_base => o200kEnd(text, start),
    };
}

/// The pieces of `text`, front to back.
pub const Iterator = struct {
    encoding: Encoding,
    text: []const u8,
    pos: usize = 0,

    pub fn init(encoding: Encoding, text: []const u8) Iterator {
        return .{ .encoding = encoding, .text = text };
    }

    pub fn next(self: *Iterator) ?[]const u8 {
        if (self.pos >= self.text.len) return null;
        const start = self.pos;
        self.pos = pieceEnd(self.encoding, self.text, start);
        return self.text[start..self.pos];
    }
};

pub const SplitError = error{ BufferTooSmall, TooLarge };

/// Writes the end offset of each piece of `text` into `out_ends` and returns
/// the piece count. out_ends.len >= text.len always suffices.
pub fn split(encoding: Encoding, text: []const u8, out_ends: []u32) SplitError!usize {
    if (text.len > std.math.maxInt(u32)) return error.TooLarge;
    var count: usize = 0;
    var pos: usize = 0;
    while (pos < text.len) {
        pos = pieceEnd(encoding, text, pos);
        if (count >= out_ends.len) return error.BufferTooSmall;
        out_ends[count] = @intCast(pos);
        count += 1;
    }
    return count;
}

// ---- tests ---------------------------------------------------------------
// Expected pieces come from Python regex 2024.11.6 findall(pat_str, text).

const testing = std.testing;

fn expectPieces(encoding: Encoding, text: []const u8, expected: []const []const u8) !void {
    var it = Iterator.init(encoding, text);
    var i: usize = 0;
    while (it.next()) |piece| : (i += 1) {
        if (i >= expected.len) {
            std.debug.print("{s}: extra piece {d} \"{f}\"\n", .{ @tagName(encoding), i, std.zig.fmtString(piece) });
            return error.TestUnexpectedResult;
        }
        if (!std.mem.eql(u8, piece, expected[i])) {
            std.debug.print("{s}: piece {d} is \"{f}\", want \"{f}\"\n", .{
                @tagName(encoding), i, std.zig.fmtString(piece), std.zig.fmtString(expected[i]),
            });
            return error.TestUnexpectedResult;
        }
    }
    try testing.expectEqual(expected.len, i);
}

fn expectBoth(text: []const u8, expected: []const []const u8) !void {
    try expectPieces(.cl100k_base, text, expected);
    try expectPieces(.o200k_base, text, expected);
}

test "the vector predicates agree with the generated ASCII table" {
    for (0..256) |i| {
        const b: u8 = @intCast(i);
        const cls: u8 = if (b < 0x80) tables.ascii[b] else 0;
        const v: V = @splat(b);
        inline for (.{ L, U, W }) |mask| {
            try testing.expectEqual(cls & mask != 0, asciiVectorMatch(mask, v).? & 1 != 0);
        }
        const masks = asciiSpaceMasks(v);
        try testing.expectEqual(cls & S != 0, masks.spaces & 1 != 0);
        try testing.expectEqual(cls & NL != 0, masks.newlines & 1 != 0);
        // The ASCII fast paths rely on no ASCII character being both U and W.
        try testing.expect(cls & U == 0 or cls & W == 0);
    }
}

test "prose" {
    try expectPieces(.cl100k_base, "Hello world, it's 2024!", &.{ "Hello", " world", ",", " it", "'s", " ", "202", "4", "!" });
    try expectPieces(.o200k_base, "Hello world, it's 2024!", &.{ "Hello", " world", ",", " it's", " ", "202", "4", "!" });
    try expectPieces(.cl100k_base, "HELLO there", &.{ "HELLO", " there" });
    try expectPieces(.o200k_base, "HELLO there", &.{ "HELLO", " there" });
}

test "contractions and case folding" {
    try expectPieces(.cl100k_base, "I'LL we'Re they'VE 'ſ 'x", &.{ "I", "'LL", " we", "'Re", " they", "'VE", " '", "ſ", " '", "x" });
    try expectPieces(.cl100k_base, "'ſx", &.{ "'ſ", "x" });
    try expectPieces(.o200k_base, "I'LL we'Re they'VE 'ſ 'x", &.{ "I'LL", " we'Re", " they'VE", " '", "ſ", " '", "x" });
    try expectPieces(.o200k_base, "'ſx", &.{"'ſx"});
    try expectPieces(.cl100k_base, "don'ſ", &.{ "don", "'ſ" });
    try expectPieces(.o200k_base, "don'ſ", &.{"don'ſ"});
    // KELVIN SIGN folds to k, which no contraction uses.
    try expectBoth("'\u{212A}", &.{"'\u{212A}"});
    try expectBoth("x'\u{212A}", &.{ "x", "'\u{212A}" });
    try expectPieces(.o200k_base, "HELLO'S", &.{"HELLO'S"});
    try expectPieces(.cl100k_base, "HELLO'S", &.{ "HELLO", "'S" });
}

test "o200k case classes" {
    try expectPieces(.o200k_base, "helloWorld HTTPServer", &.{ "hello", "World", " HTTPServer" });
    try expectPieces(.cl100k_base, "helloWorld HTTPServer", &.{ "helloWorld", " HTTPServer" });
    try expectPieces(.o200k_base, "ABCdef", &.{"ABCdef"});
    // Lt (U+01C5) is only in the upper class; Lo (U+4E2D) in both.
    try expectPieces(.o200k_base, "A\u{01C5}b \u{4E2D}A", &.{ "A\u{01C5}b", " \u{4E2D}", "A" });
    // A mark is the prefix, and part of the word when that fails.
    try expectPieces(.o200k_base, "\u{0301}abc \u{0301}ABC.", &.{ "\u{0301}abc", " \u{0301}", "ABC", "." });
}

test "whitespace" {
    try expectBoth("a  b\n\n  c  ", &.{ "a", " ", " b", "\n\n", " ", " c", "  " });
    try expectPieces(.cl100k_base, "x\n  ", &.{ "x", "\n  " });
    try expectPieces(.o200k_base, "x\n  ", &.{ "x", "\n", "  " });
    try expectBoth("x \n \n y", &.{ "x", " \n \n", " y" });
    try expectBoth("x\r\n\r\ny", &.{ "x", "\r\n\r\n", "y" });
    try expectBoth("x\r y", &.{ "x", "\r", " y" });
    try expectBoth("\t\tfoo", &.{ "\t", "\tfoo" });
    try expectBoth("\u{3000}\u{3000}1", &.{ "\u{3000}", "\u{3000}", "1" });
}

test "punctuation and newlines" {
    try expectPieces(.cl100k_base, " ...\n\nx //\n/y", &.{ " ...\n\n", "x", " //\n", "/y" });
    try expectPieces(.o200k_base, " ...\n\nx //\n/y", &.{ " ...\n\n", "x", " //\n/", "y" });
    try expectBoth("  !", &.{ " ", " !" });
}

test "digits" {
    try expectBoth("1234567", &.{ "123", "456", "7" });
    try expectBoth("a12\u{0663}\u{0664}", &.{ "a", "12\u{0663}", "\u{0664}" });
}

test "emoji, CJK, replacement and the last scalar value" {
    try expectBoth(" 👍🏽👨‍👩‍👧", &.{" 👍🏽👨‍👩‍👧"});
    try expectBoth("中文 \u{FFFD}\u{10FFFF}", &.{ "中文", " \u{FFFD}\u{10FFFF}" });
}

test "invalid UTF-8 bytes are punctuation" {
    try expectBoth("\xffabc", &.{"\xffabc"});
    try expectBoth("a\xe4\xb8 1", &.{ "a", "\xe4\xb8", " ", "1" });
    try expectBoth("\xed\xa0\x80x", &.{ "\xed\xa0\x80", "x" });
    try expectBoth("\xf4\x90\x80\x80", &.{"\xf4\x90\x80\x80"});
    try expectBoth("\xc0", &.{"\xc0"});
}

test "pieces tile every byte sequence" {
    var prng = std.Random.DefaultPrng.init(0x5eed);
    const random = prng.random();
    const alphabet = [_][]const u8{ "a", "A", " ", "\n", "\r", "'", "s", "1", ".", "/", "\t", "\u{0301}", "\u{3000}", "é", "\xff", "\xe4", "\u{01C5}", "ſ" };
    var buf: [256]u8 = undefined;
    for (0..2000) |_| {
        var len: usize = 0;
        while (true) {
            const s = alphabet[random.uintLessThan(usize, alphabet.len)];
            if (len + s.len > buf.len) break;
            @memcpy(buf[len..][0..s.len], s);
            len += s.len;
            if (random.uintLessThan(u8, 16) == 0) break;
        }
        // Also cut at arbitrary bytes, so truncated sequences occur.
        const text = buf[0..random.uintAtMost(usize, len)];
        for ([_]Encoding{ .cl100k_base, .o200k_base }) |encoding| {
            var pos: usize = 0;
            while (pos < text.len) {
                const e = pieceEnd(encoding, text, pos);
                try testing.expect(e > pos and e <= text.len);
                pos = e;
            }
        }
    }
}

test "split reports a short buffer" {
    var ends: [2]u32 = undefined;
    try testing.expectError(error.BufferTooSmall, split(.cl100k_base, "a b c", &ends));
    var enough: [5]u32 = undefined;
    try testing.expectEqual(@as(usize, 3), try split(.cl100k_base, "a b c", &enough));
    try testing.expectEqualSlices(u32, &.{ 1, 3, 5 }, enough[0..3]);
}

test "long whitespace runs, past tiktoken's panic limit" {
    const n = 1_200_000;
    const text = try testing.allocator.alloc(u8, n + 1);
    defer testing.allocator.free(text);
    @memset(text[0..n], ' ');
    text[n] = 'x';
    for ([_]Encoding{ .cl100k_base, .o200k_base }) |encoding| {
        // \s+(?!\S) leaves the last space for " x".
        try testing.expectEqual(@as(usize, n - 1), pieceEnd(encoding, text, 0));
        try testing.expectEqual(@as(usize, n + 1), pieceEnd(encoding, text, n - 1));
        // At the end of the text the whole run is one piece.
        try testing.expectEqual(@as(usize, n), pieceEnd(encoding, text[0..n], 0));
    }
    // A newline inside the run: \s*[\r\n] ends at the last one.
    text[n / 2] = '\n';
    try testing.expectEqual(@as(usize, n / 2 + 1), pieceEnd(.cl100k_base, text, 0));
    try testing.expectEqual(@as(usize, n / 2 + 1), pieceEnd(.o200k_base, text, 0));
    // ...unless, in cl100k, the run reaches the end of the text (\s++$).
    try testing.expectEqual(@as(usize, n), pieceEnd(.cl100k_base, text[0..n], 0));
    try testing.expectEqual(@as(usize, n / 2 + 1), pieceEnd(.o200k_base, text[0..n], 0));
}
