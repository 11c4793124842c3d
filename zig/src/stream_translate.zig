//! stream_translate: the upstream's raw OpenAI chat-completion SSE bytes in,
//! Anthropic Messages SSE event bytes out, byte for byte what the Python
//! reference (copilot_hybrid/stream_translate.py over
//! translate/anthropic_stream.py) sends.
//!
//! Scope: whatever this side cannot reproduce exactly returns
//! error.Unsupported, and the Python caller replays the stream through the
//! reference: an event that is not strict JSON (Python's json accepts NaN,
//! a BOM, ...; a malformed event is the reference's to report), a string
//! with a lone surrogate (Python then writes ASCII escapes), numbers beyond
//! int64 where the output uses them, nesting deeper than MAX_DEPTH, and
//! anything that needs a generated id (a stream without a message id, a
//! tool call without an id). After Unsupported the handle is dead.

const std = @import("std");
const json = std.json;
const Allocator = std.mem.Allocator;

pub const Error = error{ OutOfMemory, Unsupported };

/// What the caller does next (the header's CH_ST_*): keep feeding, the
/// message is complete but upstream is still read (as the server does), or
/// the translation ended and the rest of upstream is ignored.
pub const State = enum(i32) { open = 0, done = 1, ended = 2 };

/// Python's json raises RecursionError far below std.json's limits.
const MAX_DEPTH = 200;

const Kind = enum { none, text, thinking, tool_use };

const Usage = struct {
    input: i64 = 0,
    output: i64 = 0,
    cache_read: ?i64 = null,
    cache_creation: ?i64 = null,
};

const Record = struct {
    id: std.ArrayList(u8) = .empty,
    name: std.ArrayList(u8) = .empty,
    block: ?u64 = null,
    pending: std.ArrayList(u8) = .empty,
    arguments: std.ArrayList(u8) = .empty,

    fn deinit(self: *Record, gpa: Allocator) void {
        self.id.deinit(gpa);
        self.name.deinit(gpa);
        self.pending.deinit(gpa);
        self.arguments.deinit(gpa);
    }
};

pub const Translator = struct {
    gpa: Allocator,
    model: []u8,
    // SSE framing
    line: std.ArrayList(u8) = .empty,
    data: std.ArrayList(u8) = .empty,
    has_data: bool = false,
    ended: bool = false,
    // output not yet taken by the caller
    out: std.ArrayList(u8) = .empty,
    // each event's parsed JSON; reset (capacity kept) after every event
    arena: std.heap.ArenaAllocator,
    // the translator's state (AnthropicStreamTranslator's fields)
    started: bool = false,
    done: bool = false,
    next_index: u64 = 0,
    open_index: ?u64 = null,
    open_kind: Kind = .none,
    open_tool: ?usize = null,
    records: std.ArrayList(Record) = .empty,
    tools: std.AutoArrayHashMapUnmanaged(i64, usize) = .empty,
    last_tool_key: ?i64 = null,
    synthetic_key: i64 = -1,
    tool_blocks: u64 = 0,
    deferred: std.ArrayList(u8) = .empty,
    finish_reason: std.ArrayList(u8) = .empty,
    finish_seen: bool = false,
    usage: ?Usage = null,

    pub fn init(gpa: Allocator, model: []const u8) Error!*Translator {
        const self = try gpa.create(Translator);
        errdefer gpa.destroy(self);
        self.* = .{ .gpa = gpa, .model = try gpa.dupe(u8, model), .arena = std.heap.ArenaAllocator.init(gpa) };
        return self;
    }

    pub fn deinit(self: *Translator) void {
        const gpa = self.gpa;
        gpa.free(self.model);
        self.line.deinit(gpa);
        self.data.deinit(gpa);
        self.out.deinit(gpa);
        self.arena.deinit();
        for (self.records.items) |*r| r.deinit(gpa);
        self.records.deinit(gpa);
        self.tools.deinit(gpa);
        self.deferred.deinit(gpa);
        self.finish_reason.deinit(gpa);
        gpa.destroy(self);
    }

    pub fn state(self: *const Translator) State {
        if (self.ended) return .ended;
        return if (self.done) .done else .open;
    }

    /// One upstream read: frames its lines (iter_sse_data) and handles each event.
    pub fn feed(self: *Translator, bytes: []const u8) Error!void {
        if (self.ended) return;
        try self.line.appendSlice(self.gpa, bytes);
        var start: usize = 0;
        while (!self.ended) {
            const nl = std.mem.indexOfScalarPos(u8, self.line.items, start, '\n') orelse break;
            var line = self.line.items[start..nl];
            start = nl + 1;
            if (line.len > 0 and line[line.len - 1] == '\r') line = line[0 .. line.len - 1];
            try self.onLine(line);
        }
        if (self.ended) {
            self.line.clearRetainingCapacity();
            return;
        }
        const rest = self.line.items.len - start;
        std.mem.copyForwards(u8, self.line.items[0..rest], self.line.items[start..]);
        self.line.shrinkRetainingCapacity(rest);
    }

    /// Upstream ended (EOF): the last unterminated data line, then finish().
    pub fn finish(self: *Translator) Error!void {
        if (self.ended) return;
        const rest = self.line.items;
        if (std.mem.startsWith(u8, rest, "data:")) {
            var value = std.mem.trimRight(u8, rest[5..], "\r");
            if (value.len > 0 and value[0] == ' ') value = value[1..];
            try self.addData(value);
        }
        self.line.clearRetainingCapacity();
        if (self.has_data) try self.dispatch();
        if (self.ended) return;
        self.ended = true;
        try self.finishEvents();
    }

    fn addData(self: *Translator, value: []const u8) Error!void {
        // `value` may point into self.line, which data never aliases.
        if (self.has_data) try self.data.append(self.gpa, '\n');
        try self.data.appendSlice(self.gpa, value);
        self.has_data = true;
    }

    fn onLine(self: *Translator, line: []const u8) Error!void {
        if (line.len == 0) {
            if (self.has_data) try self.dispatch();
        } else if (std.mem.startsWith(u8, line, "data:")) {
            var value = line[5..];
            if (value.len > 0 and value[0] == ' ') value = value[1..];
            try self.addData(value);
        }
    }

    fn dispatch(self: *Translator) Error!void {
        self.has_data = false;
        defer self.data.clearRetainingCapacity();
        try self.onEvent(self.data.items);
    }

    /// The loop of routes_anthropic.anthropic_events for one event's data.
    fn onEvent(self: *Translator, data: []const u8) Error!void {
        if (std.mem.eql(u8, data, "[DONE]")) {
            self.ended = true;
            return self.finishEvents();
        }
        if (std.mem.trim(u8, data, " \t\n\r\x0b\x0c").len == 0) return;
        defer _ = self.arena.reset(.{ .retain_with_limit = 64 * 1024 });
        const value = try parseStrict(self.arena.allocator(), data);
        if (value == .object) {
            const chunk = value.object;
            if (chunk.get("error")) |err| {
                if (err != .null and !try truthy(chunk.get("choices"))) {
                    const message = switch (err) {
                        .string => |s| s,
                        .object => |o| if (o.get("message")) |m| switch (m) {
                            .string => |s| s,
                            else => return error.Unsupported,
                        } else return error.Unsupported,
                        else => return error.Unsupported,
                    };
                    self.ended = true;
                    return self.errorEvent(message);
                }
            }
        }
        try self.onChunk(value);
    }

    // ---------------------------------------------------------------- chunk

    fn onChunk(self: *Translator, value: json.Value) Error!void {
        if (self.done or value != .object) return;
        const chunk = value.object;
        const usage = chunk.get("usage");
        if (usage != null and usage.? == .object) self.usage = try usageOf(usage);
        var any_choice = false;
        if (chunk.get("choices")) |raw| if (raw == .array) {
            for (raw.array.items) |c| if (c == .object) {
                any_choice = true;
            };
        };
        if (!any_choice) {
            if (usage != null and usage.? == .object and self.finish_seen) try self.complete();
            return;
        }
        try self.startMessage(chunk);
        for (chunk.get("choices").?.array.items) |c| {
            if (c != .object) continue;
            if (c.object.get("delta")) |delta| if (delta == .object) {
                try self.onReasoning(delta.object);
                try self.onContent(delta.object);
                try self.onToolCalls(delta.object);
            };
            if (nonempty(c.object.get("finish_reason"))) |reason| {
                // merge_finish_reason: the first reason, except that a later
                // tool_calls wins and a later reason replaces stop.
                if (!self.finish_seen or std.mem.eql(u8, reason, "tool_calls") or
                    std.mem.eql(u8, self.finish_reason.items, "stop"))
                {
                    self.finish_reason.clearRetainingCapacity();
                    try self.finish_reason.appendSlice(self.gpa, reason);
                }
                self.finish_seen = true;
            }
        }
    }

    fn startMessage(self: *Translator, chunk: ?json.ObjectMap) Error!void {
        if (self.started) return;
        self.started = true;
        const c = chunk orelse return error.Unsupported; // needs a generated id
        const id = nonempty(c.get("id")) orelse return error.Unsupported;
        const model = nonempty(c.get("model")) orelse (if (self.model.len > 0) self.model else "unknown");
        var usage = try usageOf(c.get("usage"));
        usage.output = 0;
        try self.put("message_start", "{\"type\":\"message_start\",\"message\":{\"id\":");
        try self.str(id);
        try self.emit(",\"type\":\"message\",\"role\":\"assistant\",\"content\":[],\"model\":");
        try self.str(model);
        try self.emit(",\"stop_reason\":null,\"stop_sequence\":null,\"usage\":");
        try self.usageJson(usage);
        try self.emit("}}\n\n");
    }

    fn onReasoning(self: *Translator, delta: json.ObjectMap) Error!void {
        const text = nonempty(delta.get("reasoning_text")) orelse nonempty(delta.get("reasoning_content"));
        const signature = nonempty(delta.get("reasoning_opaque"));
        if (text == null and signature == null) return;
        if (self.open_kind != .thinking) {
            try self.open(.thinking, "{\"type\":\"thinking\",\"thinking\":\"\",\"signature\":\"\"}");
        }
        if (text) |t| try self.emitDelta("{\"type\":\"thinking_delta\",\"thinking\":", t);
        if (signature) |s| {
            try self.emitDelta("{\"type\":\"signature_delta\",\"signature\":", s);
            try self.close();
        }
    }

    fn onContent(self: *Translator, delta: json.ObjectMap) Error!void {
        const text = nonempty(delta.get("content")) orelse return;
        if (self.open_kind == .tool_use) {
            try self.deferred.appendSlice(self.gpa, text);
            return;
        }
        if (self.open_kind != .text) try self.open(.text, "{\"type\":\"text\",\"text\":\"\"}");
        if (self.deferred.items.len > 0) {
            try self.deferred.appendSlice(self.gpa, text);
            try self.emitDelta("{\"type\":\"text_delta\",\"text\":", self.deferred.items);
            self.deferred.clearRetainingCapacity();
        } else {
            try self.emitDelta("{\"type\":\"text_delta\",\"text\":", text);
        }
    }

    fn onToolCalls(self: *Translator, delta: json.ObjectMap) Error!void {
        const calls = delta.get("tool_calls") orelse return;
        if (calls != .array) return;
        for (calls.array.items) |entry| if (entry == .object) try self.onToolCall(entry.object);
    }

    fn onToolCall(self: *Translator, entry: json.ObjectMap) Error!void {
        const gpa = self.gpa;
        const call_id = nonempty(entry.get("id"));
        const function: ?json.ObjectMap = if (entry.get("function")) |f| (if (f == .object) f.object else null) else null;
        const name = if (function) |f| nonempty(f.get("name")) else null;
        const arguments = if (function) |f| nonempty(f.get("arguments")) else null;
        var key: i64 = undefined;
        const index = entry.get("index");
        if (index != null and index.? == .integer) {
            key = index.?.integer;
        } else if (index != null and index.? == .number_string and isIntegerText(index.?.number_string)) {
            return error.Unsupported; // a Python int beyond int64
        } else if (call_id != null or name != null) {
            key = self.synthetic_key;
            self.synthetic_key -%= 1;
        } else if (self.last_tool_key) |last| {
            key = last;
        } else return;
        var slot: ?usize = self.tools.get(key);
        if (slot) |s| {
            const r = &self.records.items[s];
            if (call_id != null and r.id.items.len > 0 and !std.mem.eql(u8, call_id.?, r.id.items)) slot = null;
        }
        const at = slot orelse blk: {
            try self.records.append(gpa, .{});
            const new = self.records.items.len - 1;
            try self.tools.put(gpa, key, new);
            break :blk new;
        };
        self.last_tool_key = key;
        const r = &self.records.items[at];
        if (call_id) |id| if (r.id.items.len == 0) try r.id.appendSlice(gpa, id);
        if (name) |n| if (r.name.items.len == 0) try r.name.appendSlice(gpa, n);
        if (arguments) |a| try r.arguments.appendSlice(gpa, a);
        if (r.block == null) {
            if (arguments) |a| try r.pending.appendSlice(gpa, a);
            if (r.name.items.len > 0) try self.startTool(at);
        } else if (arguments != null and self.open_tool == at) {
            try self.emitDelta("{\"type\":\"input_json_delta\",\"partial_json\":", arguments.?);
        }
    }

    fn startTool(self: *Translator, at: usize) Error!void {
        if (self.records.items[at].id.items.len == 0) return error.Unsupported; // needs a generated id
        try self.close();
        const index = try self.openIndex(.tool_use);
        self.records.items[at].block = index;
        const r = &self.records.items[at];
        try self.emit("{\"type\":\"tool_use\",\"id\":");
        try self.str(r.id.items);
        try self.emit(",\"name\":");
        try self.str(r.name.items);
        try self.emit(",\"input\":{}}}\n\n");
        self.open_tool = at;
        self.tool_blocks += 1;
        if (r.pending.items.len > 0) {
            try self.emitDelta("{\"type\":\"input_json_delta\",\"partial_json\":", r.pending.items);
            self.records.items[at].pending.clearRetainingCapacity();
        }
    }

    // ---------------------------------------------------------------- blocks

    /// content_block_start up to its content_block (the caller writes it and "}\n\n").
    fn openIndex(self: *Translator, kind: Kind) Error!u64 {
        const index = self.next_index;
        self.next_index += 1;
        self.open_index = index;
        self.open_kind = kind;
        try self.put("content_block_start", "{\"type\":\"content_block_start\",\"index\":");
        try self.int(index);
        try self.emit(",\"content_block\":");
        return index;
    }

    fn open(self: *Translator, kind: Kind, content_block: []const u8) Error!void {
        try self.close();
        _ = try self.openIndex(kind);
        try self.emit(content_block);
        try self.emit("}\n\n");
    }

    fn close(self: *Translator) Error!void {
        if (self.open_index) |index| {
            try self.put("content_block_stop", "{\"type\":\"content_block_stop\",\"index\":");
            try self.int(index);
            try self.emit("}\n\n");
        }
        self.open_index = null;
        self.open_kind = .none;
        self.open_tool = null;
    }

    /// content_block_delta; `head` is the delta object up to its string value.
    fn emitDelta(self: *Translator, head: []const u8, value: []const u8) Error!void {
        try self.put("content_block_delta", "{\"type\":\"content_block_delta\",\"index\":");
        if (self.open_index) |index| try self.int(index) else try self.emit("null");
        try self.emit(",\"delta\":");
        try self.emit(head);
        try self.str(value);
        try self.emit("}}\n\n");
    }

    // ---------------------------------------------------------------- end

    fn finishEvents(self: *Translator) Error!void {
        if (self.done) return;
        try self.startMessage(null);
        try self.complete();
    }

    fn errorEvent(self: *Translator, message: []const u8) Error!void {
        if (self.done) return;
        self.done = true;
        try self.put("error", "{\"type\":\"error\",\"error\":{\"type\":\"api_error\",\"message\":");
        try self.str(message);
        try self.emit("}}\n\n");
    }

    fn complete(self: *Translator) Error!void {
        try self.close();
        if (self.deferred.items.len > 0) {
            try self.open(.text, "{\"type\":\"text\",\"text\":\"\"}");
            try self.emitDelta("{\"type\":\"text_delta\",\"text\":", self.deferred.items);
            try self.close();
            self.deferred.clearRetainingCapacity();
        }
        const reason = try self.stopReason();
        try self.put("message_delta", "{\"type\":\"message_delta\",\"delta\":{\"stop_reason\":");
        try self.str(reason);
        try self.emit(",\"stop_sequence\":null},\"usage\":");
        try self.usageJson(self.usage orelse .{});
        try self.emit("}\n\n");
        try self.put("message_stop", "{\"type\":\"message_stop\"}\n\n");
        self.done = true;
    }

    fn stopReason(self: *Translator) Error![]const u8 {
        if (self.finish_seen) {
            const reason_in = self.finish_reason.items;
            const map = [_][2][]const u8{
                .{ "stop", "end_turn" },         .{ "length", "max_tokens" },
                .{ "tool_calls", "tool_use" },   .{ "function_call", "tool_use" },
                .{ "content_filter", "end_turn" },
            };
            var reason: []const u8 = "end_turn";
            for (map) |pair| if (std.mem.eql(u8, pair[0], reason_in)) {
                reason = pair[1];
            };
            if (std.mem.eql(u8, reason, "end_turn") and self.tool_blocks > 0 and std.mem.eql(u8, reason_in, "stop")) {
                return "tool_use";
            }
            return reason;
        }
        var any = false;
        for (self.tools.values()) |at| {
            const r = &self.records.items[at];
            if (r.block == null) continue;
            any = true;
            const text = r.arguments.items;
            // str.strip()'s ASCII whitespace; anything else non-JSON is decided below.
            if (std.mem.trim(u8, text, " \t\n\r\x0b\x0c\x1c\x1d\x1e\x1f").len == 0) continue;
            var arena_state = std.heap.ArenaAllocator.init(self.gpa);
            defer arena_state.deinit();
            _ = parseStrict(arena_state.allocator(), text) catch |err| switch (err) {
                error.OutOfMemory => return error.OutOfMemory,
                error.Unsupported => {
                    // Python's json also takes NaN/Infinity, lone surrogates,
                    // and str.strip() knows Unicode spaces: those are its call.
                    for (text) |b| if (b >= 0x80 or b == 0x0b or b == 0x0c or (b >= 0x1c and b <= 0x1f) or
                        b == 'N' or b == 'I' or b == '\\') return error.Unsupported;
                    if (maxDepth(text) > MAX_DEPTH) return error.Unsupported;
                    return "max_tokens";
                },
            };
        }
        return if (any) "tool_use" else "end_turn";
    }

    // ---------------------------------------------------------------- output

    fn emit(self: *Translator, bytes: []const u8) Error!void {
        try self.out.appendSlice(self.gpa, bytes);
    }

    /// `event: <kind>\ndata: ` then `body`.
    fn put(self: *Translator, kind: []const u8, body: []const u8) Error!void {
        try self.emit("event: ");
        try self.emit(kind);
        try self.emit("\ndata: ");
        try self.emit(body);
    }

    fn int(self: *Translator, value: anytype) Error!void {
        var buf: [24]u8 = undefined;
        const text = std.fmt.bufPrint(&buf, "{d}", .{value}) catch unreachable; // 24 bytes hold any i64/u64
        try self.emit(text);
    }

    /// A JSON string as Python's json.dumps(ensure_ascii=False) writes it.
    fn str(self: *Translator, s: []const u8) Error!void {
        const hex = "0123456789abcdef";
        try self.out.ensureUnusedCapacity(self.gpa, s.len + 2);
        try self.emit("\"");
        var plain: usize = 0;
        for (s, 0..) |b, i| {
            const escape: ?[]const u8 = switch (b) {
                '"' => "\\\"",
                '\\' => "\\\\",
                '\n' => "\\n",
                '\r' => "\\r",
                '\t' => "\\t",
                0x08 => "\\b",
                0x0c => "\\f",
                else => null,
            };
            if (escape == null and b >= 0x20) continue;
            try self.emit(s[plain..i]);
            plain = i + 1;
            if (escape) |e| {
                try self.emit(e);
            } else {
                try self.emit(&[_]u8{ '\\', 'u', '0', '0', hex[b >> 4], hex[b & 15] });
            }
        }
        try self.emit(s[plain..]);
        try self.emit("\"");
    }

    fn usageJson(self: *Translator, u: Usage) Error!void {
        try self.emit("{\"input_tokens\":");
        try self.int(u.input);
        try self.emit(",\"output_tokens\":");
        try self.int(u.output);
        if (u.cache_read) |v| {
            try self.emit(",\"cache_read_input_tokens\":");
            try self.int(v);
        }
        if (u.cache_creation) |v| {
            try self.emit(",\"cache_creation_input_tokens\":");
            try self.int(v);
        }
        try self.emit("}");
    }
};

// -------------------------------------------------------------------- values

fn nonempty(value: ?json.Value) ?[]const u8 {
    const v = value orelse return null;
    return switch (v) {
        .string => |s| if (s.len > 0) s else null,
        else => null,
    };
}

fn isIntegerText(s: []const u8) bool {
    return json.isNumberFormattedLikeAnInteger(s);
}

/// Python truthiness of an optional JSON value; Unsupported for non-integer numbers.
fn truthy(value: ?json.Value) Error!bool {
    const v = value orelse return false;
    return switch (v) {
        .null => false,
        .bool => |b| b,
        .integer => |i| i != 0,
        .float, .number_string => error.Unsupported,
        .string => |s| s.len > 0,
        .array => |a| a.items.len > 0,
        .object => |o| o.count() > 0,
    };
}

/// anthropic_response._count: a positive int, else 0.
fn count(value: ?json.Value) Error!i64 {
    const v = value orelse return 0;
    return switch (v) {
        .integer => |i| if (i > 0) i else 0,
        .number_string => |s| if (isIntegerText(s)) error.Unsupported else 0,
        else => 0,
    };
}

/// anthropic_response.anthropic_usage.
fn usageOf(value: ?json.Value) Error!Usage {
    const v = value orelse return .{};
    if (v != .object) return .{};
    const usage = v.object;
    const details: ?json.ObjectMap = if (usage.get("prompt_tokens_details")) |d| (if (d == .object) d.object else null) else null;
    const cached = if (details) |d| d.get("cached_tokens") else null;
    const written = if (details) |d| d.get("cache_creation_input_tokens") else null;
    const prompt: i128 = try count(usage.get("prompt_tokens"));
    const input = prompt - try count(cached) - try count(written);
    var result: Usage = .{
        .input = @intCast(@max(0, input)),
        .output = try count(usage.get("completion_tokens")),
    };
    if (cached != null and cached.? != .null) result.cache_read = try count(cached);
    if (written != null and written.? != .null) result.cache_creation = try count(written);
    return result;
}

/// Deepest array/object nesting of JSON text (strings skipped).
fn maxDepth(text: []const u8) usize {
    var depth: usize = 0;
    var deepest: usize = 0;
    var in_string = false;
    var escaped = false;
    for (text) |b| {
        if (in_string) {
            if (escaped) {
                escaped = false;
            } else if (b == '\\') {
                escaped = true;
            } else if (b == '"') {
                in_string = false;
            }
            continue;
        }
        switch (b) {
            '"' => in_string = true,
            '[', '{' => {
                depth += 1;
                deepest = @max(deepest, depth);
            },
            ']', '}' => depth -|= 1,
            else => {},
        }
    }
    return deepest;
}

/// JSON that Python's json.loads reads the same way, or Unsupported.
fn parseStrict(arena: Allocator, data: []const u8) Error!json.Value {
    if (!std.unicode.utf8ValidateSlice(data)) return error.Unsupported;
    if (std.mem.startsWith(u8, data, "\xef\xbb\xbf")) return error.Unsupported;
    if (std.mem.indexOfScalar(u8, data, 0) != null) return error.Unsupported;
    if (maxDepth(data) > MAX_DEPTH) return error.Unsupported;
    return json.parseFromSliceLeaky(json.Value, arena, data, .{
        .duplicate_field_behavior = .use_last,
        .allocate = .alloc_always,
    }) catch |err| switch (err) {
        error.OutOfMemory => error.OutOfMemory,
        else => error.Unsupported,
    };
}

// -------------------------------------------------------------------- tests

const testing = std.testing;

fn run(gpa: Allocator, model: []const u8, reads: []const []const u8) ![]u8 {
    const t = try Translator.init(gpa, model);
    defer t.deinit();
    for (reads) |r| try t.feed(r);
    try t.finish();
    return gpa.dupe(u8, t.out.items);
}

test "text stream, split anywhere, gives the same bytes" {
    const stream =
        "data: {\"id\":\"c1\",\"model\":\"gpt\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"He\\\"llo\\u00e9\\n\"}}]}\n\n" ++
        "data: {\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}]}\r\n\r\n" ++
        "data: {\"choices\":[],\"usage\":{\"prompt_tokens\":10,\"completion_tokens\":3,\"prompt_tokens_details\":{\"cached_tokens\":4}}}\n\n" ++
        "data: [DONE]\n\n";
    const expected =
        "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"c1\",\"type\":\"message\",\"role\":\"assistant\",\"content\":[],\"model\":\"gpt\",\"stop_reason\":null,\"stop_sequence\":null,\"usage\":{\"input_tokens\":0,\"output_tokens\":0}}}\n\n" ++
        "event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"text\",\"text\":\"\"}}\n\n" ++
        "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"He\\\"llo\xc3\xa9\\n\"}}\n\n" ++
        "event: content_block_stop\ndata: {\"type\":\"content_block_stop\",\"index\":0}\n\n" ++
        "event: message_delta\ndata: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"end_turn\",\"stop_sequence\":null},\"usage\":{\"input_tokens\":6,\"output_tokens\":3,\"cache_read_input_tokens\":4}}\n\n" ++
        "event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n";
    const whole = try run(testing.allocator, "m", &.{stream});
    defer testing.allocator.free(whole);
    try testing.expectEqualStrings(expected, whole);
    for (1..stream.len) |cut| {
        const split = try run(testing.allocator, "m", &.{ stream[0..cut], stream[cut..] });
        defer testing.allocator.free(split);
        try testing.expectEqualStrings(expected, split);
    }
}

test "tool calls keyed by index, a missing id is unsupported" {
    const stream =
        "data: {\"id\":\"c\",\"choices\":[{\"delta\":{\"tool_calls\":[{\"index\":0,\"id\":\"t1\",\"function\":{\"name\":\"f\",\"arguments\":\"{\\\"a\\\"\"}}]}}]}\n\n" ++
        "data: {\"choices\":[{\"delta\":{\"tool_calls\":[{\"index\":0,\"function\":{\"arguments\":\":1}\"}}]}}]}\n\n";
    const out = try run(testing.allocator, "", &.{stream});
    defer testing.allocator.free(out);
    try testing.expect(std.mem.indexOf(u8, out, "\"stop_reason\":\"tool_use\"") != null);
    try testing.expect(std.mem.indexOf(u8, out, "\"model\":\"unknown\"") != null);
    const no_id = "data: {\"id\":\"c\",\"choices\":[{\"delta\":{\"tool_calls\":[{\"index\":0,\"function\":{\"name\":\"f\"}}]}}]}\n\n";
    try testing.expectError(error.Unsupported, run(testing.allocator, "m", &.{no_id}));
    try testing.expectError(error.Unsupported, run(testing.allocator, "m", &.{"data: {bad\n\n"}));
    try testing.expectError(error.Unsupported, run(testing.allocator, "m", &.{""}));
}

test "random bytes never crash or leak" {
    var prng = std.Random.DefaultPrng.init(0x5eed);
    const random = prng.random();
    const pieces = [_][]const u8{
        "data: ",       "{\"id\":\"x\",", "\"choices\":[", "{\"delta\":{\"content\":\"a\"}", "]}", "\n", "\r\n",
        "[DONE]",       "\"tool_calls\":[{\"index\":1,\"id\":\"i\",\"function\":{\"name\":\"n\",\"arguments\":\"{\"}}]",
        "\"usage\":{}", "\"finish_reason\":\"stop\"", "{", "}", ",", "\"error\":\"boom\"", "\xff", "\\u12",
    };
    var buf: [512]u8 = undefined;
    for (0..3000) |_| {
        var len: usize = 0;
        while (len < 400) {
            if (random.boolean()) {
                const p = pieces[random.uintLessThan(usize, pieces.len)];
                @memcpy(buf[len..][0..p.len], p);
                len += p.len;
            } else {
                buf[len] = random.int(u8);
                len += 1;
            }
        }
        const cut = random.uintLessThan(usize, len + 1);
        const out = run(testing.allocator, "m", &.{ buf[0..cut], buf[cut..len] }) catch |err| {
            try testing.expect(err == error.Unsupported);
            continue;
        };
        testing.allocator.free(out);
    }
}

test "allocation failures are reported, never leaked" {
    const stream = "data: {\"id\":\"c\",\"choices\":[{\"delta\":{\"content\":\"x\",\"tool_calls\":[{\"index\":0,\"id\":\"t\",\"function\":{\"name\":\"f\",\"arguments\":\"{}\"}}]},\"finish_reason\":\"tool_calls\"}]}\n\ndata: [DONE]\n\n";
    const Check = struct {
        fn f(gpa: Allocator) !void {
            const out = try run(gpa, "m", &.{stream});
            gpa.free(out);
        }
    };
    try testing.checkAllAllocationFailures(testing.allocator, Check.f, .{});
}
