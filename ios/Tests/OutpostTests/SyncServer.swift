// The real outpost-server binary for the sync tests (macOS only: it runs a child process).
// Mirror of android/src/test/kotlin/app/outpost/testing/SyncServer.kt.
import Foundation

/// What went wrong starting or driving the server.
struct SyncServerError: Error, CustomStringConvertible {
    let description: String
}

/// `outpost-server serve` on embedded SQLite in `dataDir`, on a free port of 127.0.0.1.
/// `stop()` ends it (tests call it in `tearDown`). The binary is `$OUTPOST_SERVER_BIN`, or
/// `target/debug/outpost-server` of this checkout (`cargo build -p outpost-server`).
final class SyncServer {
    let dataDir: URL
    /// `http://127.0.0.1:PORT`, the base URL devices sync with.
    let url: String
    private let process = Process()
    private let output = Pipe()

    init(dataDir: URL) throws {
        self.dataDir = dataDir
        try FileManager.default.createDirectory(at: dataDir, withIntermediateDirectories: true)
        process.executableURL = try SyncServer.binary()
        process.arguments = ["serve", "--listen", "127.0.0.1:0"]
        process.environment = SyncServer.environment(dataDir)
        process.standardOutput = output
        process.standardError = output
        try process.run()
        // Read until the server says where it listens (or exits: end of file).
        let reader = output.fileHandleForReading
        var seen = Data()
        var address: String?
        while address == nil {
            let chunk = reader.availableData
            if chunk.isEmpty { break }
            seen.append(chunk)
            let text = String(decoding: seen, as: UTF8.self)
            if let r = text.range(of: #"listening on 127\.0\.0\.1:[0-9]+"#, options: .regularExpression) {
                address = String(text[r].dropFirst("listening on ".count))
            }
        }
        guard let address else {
            process.terminate()
            throw SyncServerError(description: "outpost-server did not start: \(String(decoding: seen, as: UTF8.self))")
        }
        url = "http://\(address)"
        // Keep draining its output, or it blocks once the pipe is full.
        reader.readabilityHandler = { handle in _ = handle.availableData }
    }

    /// Stops the server and waits for it to exit.
    func stop() {
        output.fileHandleForReading.readabilityHandler = nil
        if process.isRunning {
            process.terminate()
            process.waitUntilExit()
        }
    }

    /// `outpost-server tenant create NAME`; returns the tenant id.
    /// Tests that are not about scoped sync use `open` sharing (every user reads every record).
    func createTenant(_ name: String, sharing: String = "open") throws -> String {
        try field("id", of: runOperator(["tenant", "create", name, "--sharing", sharing]))
    }

    /// `outpost-server device enroll`; returns the device id and its token.
    func enrollDevice(tenant: String, user: String, role: String = "rep") throws -> (deviceId: String, token: String) {
        let json = try runOperator(["device", "enroll", "--tenant", tenant, "--user", user, "--role", role])
        return (try field("device_id", of: json), try field("token", of: json))
    }

    /// `outpost-server team create NAME --manager MANAGER`, then `team add NAME USER` per member.
    func createTeam(tenant: String, name: String, manager: String, members: [String]) throws {
        _ = try runOperator(["team", "create", name, "--manager", manager, "--tenant", tenant])
        for m in members {
            _ = try runOperator(["team", "add", name, m, "--tenant", tenant])
        }
    }

    /// `outpost-server tenant lease --days N --grace-days M`: the lease every device receives.
    func setLease(tenant: String, days: Int, graceDays: Int) throws {
        _ = try runOperator(["tenant", "lease", "--tenant", tenant, "--days", "\(days)", "--grace-days", "\(graceDays)"])
    }

    /// `outpost-server record assign RECORD --to USER`.
    func assign(tenant: String, record: String, to: String) throws {
        _ = try runOperator(["record", "assign", record, "--to", to, "--tenant", tenant])
    }

    /// `outpost-server device revoke DEVICE_ID`.
    func revokeDevice(_ deviceId: String) throws {
        _ = try runOperator(["device", "revoke", deviceId])
    }

    private func runOperator(_ args: [String]) throws -> Data {
        let p = Process()
        p.executableURL = try SyncServer.binary()
        p.arguments = args
        p.environment = SyncServer.environment(dataDir)
        let out = Pipe(), err = Pipe()
        p.standardOutput = out
        p.standardError = err
        try p.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        let errors = err.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        guard p.terminationStatus == 0 else {
            throw SyncServerError(description: "outpost-server \(args.joined(separator: " ")) failed: \(String(decoding: errors, as: UTF8.self))")
        }
        return data
    }

    private func field(_ name: String, of json: Data) throws -> String {
        guard let object = try JSONSerialization.jsonObject(with: json) as? [String: Any],
              let value = object[name] as? String
        else { throw SyncServerError(description: "no \"\(name)\" in \(String(decoding: json, as: UTF8.self))") }
        return value
    }

    private static func binary() throws -> URL {
        let path = ProcessInfo.processInfo.environment["OUTPOST_SERVER_BIN"]
            ?? URL(fileURLWithPath: #filePath)  // ios/Tests/OutpostTests/SyncServer.swift
                .deletingLastPathComponent().deletingLastPathComponent()
                .deletingLastPathComponent().deletingLastPathComponent()
                .appendingPathComponent("target/debug/outpost-server").path
        guard FileManager.default.isExecutableFile(atPath: path) else {
            throw SyncServerError(description: "no outpost-server at \(path): run `cargo build -p outpost-server` or set OUTPOST_SERVER_BIN")
        }
        return URL(fileURLWithPath: path)
    }

    /// This server's own data directory, and nothing from the caller's OUTPOST_* variables.
    private static func environment(_ dataDir: URL) -> [String: String] {
        var env = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("OUTPOST_") }
        env["OUTPOST_DATA"] = dataDir.path
        env["RUST_LOG"] = "warn,outpost_server=info"
        return env
    }
}
