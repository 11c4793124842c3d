//! The one way to compile and test the native core (Zig 0.15.2, the PyPI
//! `ziglang` package: `python -m ziglang build ...` from this directory).
//!
//!   zig build -Doptimize=ReleaseFast [-Dtarget=aarch64-linux-gnu] [--prefix DIR]
//!       the shared library, installed as DIR/lib/<libcopilot_core.so | .dylib | copilot_core.dll>
//!       (DIR defaults to zig-out)
//!   zig build test [-Dtest-filter=TEXT ...]
//!       every Zig unit test (root.zig's header check and each feature's tests),
//!       or those whose name contains TEXT
//!
//! `copilot-hybrid build` (copilot_hybrid/native/build.py) runs the first
//! command and passes -Dsource-digest and -Dpackage-version, the values the
//! loader's handshake compares; a hand-run build says "unknown" for both, so
//! the loader reports it stale instead of trusting it.

const std = @import("std");

pub fn build(b: *std.Build) void {
    const target = b.standardTargetOptions(.{});
    const optimize = b.option(
        std.builtin.OptimizeMode,
        "optimize",
        "How to optimize (default: ReleaseFast for the library, Debug for the tests)",
    );
    const lib_optimize = optimize orelse .ReleaseFast;
    const strip = b.option(bool, "strip", "Omit debug information (default: only for ReleaseFast)") orelse
        (lib_optimize == .ReleaseFast);
    const source_digest = b.option([]const u8, "source-digest", "sha256 of the sources, from build.py") orelse "unknown";
    const package_version = b.option([]const u8, "package-version", "copilot-hybrid's version") orelse "unknown";

    const build_info = b.createModule(.{ .root_source_file = b.addWriteFiles().add("build_info.zig", b.fmt(
        \\pub const source_digest: [*:0]const u8 = "{f}";
        \\pub const package_version: [*:0]const u8 = "{f}";
        \\
    , .{ std.zig.fmtString(source_digest), std.zig.fmtString(package_version) })) });

    const lib = b.addLibrary(.{
        .name = "copilot_core",
        .linkage = .dynamic,
        .root_module = b.createModule(.{
            .root_source_file = b.path("src/root.zig"),
            .target = target,
            .optimize = lib_optimize,
            .strip = strip,
            .imports = &.{.{ .name = "build_info", .module = build_info }},
        }),
    });
    lib.root_module.addIncludePath(b.path("include"));
    // One place on every OS: Windows DLLs would default to bin/, and the
    // import library and PDB are not needed by cffi.
    b.getInstallStep().dependOn(&b.addInstallArtifact(lib, .{
        .dest_dir = .{ .override = .lib },
        .implib_dir = .disabled,
        .pdb_dir = .disabled,
    }).step);

    const test_filters = b.option([]const []const u8, "test-filter", "Run only the tests whose name contains this") orelse &.{};
    const tests = b.addTest(.{
        .filters = test_filters,
        .root_module = b.createModule(.{
            .root_source_file = b.path("src/root.zig"),
            .target = target,
            .optimize = optimize orelse .Debug,
            // The header check @cImports copilot_core.h, whose <stdint.h> comes with libc.
            .link_libc = true,
            .imports = &.{.{ .name = "build_info", .module = build_info }},
        }),
    });
    tests.root_module.addIncludePath(b.path("include"));
    const test_step = b.step("test", "Run the Zig unit tests");
    test_step.dependOn(&b.addRunArtifact(tests).step);
}
