// XCTest mirror of android/src/test/kotlin/app/outpost/OutpostStoreTest.kt: the same cases,
// through the Swift bindings. Run on a Mac: ios/build-xcframework.sh && cd ios && swift test
import Foundation
import XCTest
@testable import Outpost

/// Records every change it is told about; optionally reads the store back from inside.
final class RecordingListener: ChangeListener, @unchecked Sendable {
    private let lock = NSLock()
    private var changes: [RecordChange] = []
    private var names: [String] = []
    weak var store: OutpostStore?
    var shouldThrow = false

    func onChange(change: RecordChange) throws {
        let name = try store?.getContact(id: change.id).name
        lock.lock()
        changes.append(change)
        if let name { names.append(name) }
        lock.unlock()
        if shouldThrow { throw ListenerError.Failed(reason: "UI is gone") }
    }

    var seen: [RecordChange] { lock.lock(); defer { lock.unlock() }; return changes }
    var namesSeen: [String] { lock.lock(); defer { lock.unlock() }; return names }
}

final class OutpostTests: XCTestCase {
    private var dir: URL!

    override func setUpWithError() throws {
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("outpost-swift-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(at: dir)
    }

    private func open(_ name: String = "rep.db", user: String = "rep1", region: String = "CN") throws -> OutpostStore {
        try OutpostStore.open(path: dir.appendingPathComponent(name).path, options: StoreOptions(region: region, user: user))
    }

    private func zhangWei() -> NewContact {
        NewContact(
            name: "张伟",
            company: "深圳市华强科技有限公司",
            title: "采购经理",
            phones: ["138 0013 8000"],
            emails: ["Zhang.Wei@HuaQiang.example"]
        )
    }

    /// Runs `body`, expecting `OutpostError.Validation`; returns its field and reason.
    private func validationError(_ body: () throws -> Void) -> (field: String, reason: String)? {
        do {
            try body()
        } catch let OutpostError.Validation(field, reason) {
            return (field, reason)
        } catch {
            XCTFail("expected OutpostError.Validation, got \(error)")
            return nil
        }
        XCTFail("expected OutpostError.Validation, nothing was thrown")
        return nil
    }

    func testLibraryLoadsAndReportsItsVersion() {
        XCTAssertNotNil(outpostVersion().range(of: #"^\d+\.\d+\.\d+"#, options: .regularExpression))
    }

    func testOpensANewStoreInATempDir() throws {
        let store = try open()
        let status = try store.status()
        XCTAssertTrue(FileManager.default.fileExists(atPath: dir.appendingPathComponent("rep.db").path))
        XCTAssertEqual(status.user, "rep1")
        XCTAssertEqual(status.region, "CN")
        XCTAssertGreaterThanOrEqual(status.schemaVersion, 1)
        XCTAssertEqual(status.outboxLen, 0)
        XCTAssertTrue(try store.listContacts(options: ListOptions()).isEmpty)
    }

    func testAddsAChineseContactWithThePhoneInE164() throws {
        let store = try open()
        let added = try store.addContact(contact: zhangWei())
        XCTAssertEqual(added.name, "张伟")
        XCTAssertEqual(added.company, "深圳市华强科技有限公司")
        XCTAssertEqual(added.phones, ["+8613800138000"])
        XCTAssertEqual(added.emails, ["zhang.wei@huaqiang.example"])
        XCTAssertEqual(added.owner, "rep1")
        XCTAssertEqual(added.status, .active)
        XCTAssertEqual(try store.getContact(id: added.id), added)
        XCTAssertGreaterThan(try store.status().outboxLen, 0)
    }

    func testFindsAContactByATwoCharacterChineseSubstring() throws {
        let store = try open()
        let zhang = try store.addContact(contact: zhangWei())
        _ = try store.addContact(contact: NewContact(name: "李娜", company: "广州白云电器有限公司", phones: ["+86 139 1234 5678"]))
        XCTAssertEqual(try store.search(query: "华强", options: SearchOptions()).map(\.id), [zhang.id])
        XCTAssertEqual(try store.search(query: "白云", options: SearchOptions()).map(\.name), ["李娜"])
        XCTAssertEqual(try store.search(query: "张", options: SearchOptions()).map(\.id), [zhang.id])
        XCTAssertTrue(try store.search(query: "华为", options: SearchOptions()).isEmpty)
        XCTAssertEqual(try store.search(query: "13800138000", options: SearchOptions()).map(\.id), [zhang.id])
    }

    func testEditChangesOnlyTheGivenFields() throws {
        let store = try open()
        let zhang = try store.addContact(contact: zhangWei())
        let edited = try store.editContact(id: zhang.id, patch: ContactPatch(title: "采购总监", phones: ["0755-52659655"]))
        XCTAssertEqual(edited.title, "采购总监")
        XCTAssertEqual(edited.phones, ["+8675552659655"])
        XCTAssertEqual(edited.company, zhang.company)
        XCTAssertEqual(edited.emails, zhang.emails)
        XCTAssertEqual(try store.getContact(id: zhang.id), edited)
        XCTAssertNil(try store.editContact(id: zhang.id, patch: ContactPatch(title: "")).title)
    }

    func testHistoryTellsWhoChangedWhatAndWhen() throws {
        let store = try open()
        let zhang = try store.addContact(contact: zhangWei())
        _ = try store.editContact(id: zhang.id, patch: ContactPatch(title: "采购总监"))
        let history = try store.contactHistory(id: zhang.id)
        XCTAssertEqual(history.map(\.action), ["create", "edit"])
        XCTAssertTrue(history.allSatisfy { $0.actor == "rep1" && !$0.at.isEmpty })
        XCTAssertEqual(history[0].changes.first { $0.field == "phones" }?.new, "+8613800138000")
        XCTAssertEqual(history[1].changes, [FieldChange(field: "title", old: "采购经理", new: "采购总监")])
    }

    func testInvalidatingHidesTheContactButKeepsIt() throws {
        let store = try open()
        let zhang = try store.addContact(contact: zhangWei())
        let li = try store.addContact(contact: NewContact(name: "李娜"))
        let invalid = try store.invalidateContact(id: zhang.id, reason: "重复客户")
        XCTAssertEqual(invalid.status, .invalid)
        XCTAssertEqual(invalid.invalidation?.reason, "重复客户")
        XCTAssertEqual(try store.listContacts(options: ListOptions()).map(\.id), [li.id])
        XCTAssertTrue(try store.search(query: "华强", options: SearchOptions()).isEmpty)
        XCTAssertEqual(Set(try store.listContacts(options: ListOptions(includeInvalid: true)).map(\.id)), [zhang.id, li.id])
        XCTAssertEqual(try store.search(query: "华强", options: SearchOptions(includeInvalid: true)).map(\.id), [zhang.id])
        XCTAssertEqual(try store.getContact(id: zhang.id).status, .invalid)
        XCTAssertEqual(validationError { _ = try store.invalidateContact(id: li.id, reason: " ") }?.field, "reason")
    }

    func testUnknownExtraFieldsRoundTrip() throws {
        let store = try open()
        let extra = ["wechat": "zhangwei88", "生日": "1990-05-01", "loyalty_tier": "gold"]
        var new = zhangWei()
        new.extra = extra
        let zhang = try store.addContact(contact: new)
        XCTAssertEqual(zhang.extra, extra)
        XCTAssertEqual(try store.editContact(id: zhang.id, patch: ContactPatch(title: "总经理")).extra, extra)
        let changed = try store.editContact(
            id: zhang.id,
            patch: ContactPatch(set: ["wechat": "zw_1988", "region_code": "GD"], unset: ["loyalty_tier"])
        )
        XCTAssertEqual(changed.extra, ["wechat": "zw_1988", "生日": "1990-05-01", "region_code": "GD"])
        XCTAssertEqual(try store.getContact(id: zhang.id).extra, changed.extra)
    }

    func testABadPhoneIsATypedValidationErrorNamingTheField() throws {
        let store = try open()
        let bad = "138-0013-80A0"
        let e = validationError { _ = try store.addContact(contact: NewContact(name: "王芳", phones: [bad])) }
        XCTAssertEqual(e?.field, "phones")
        XCTAssertFalse(e?.reason.isEmpty ?? true)
        XCTAssertFalse((e?.reason ?? "").contains("0013"), "the number leaked")
        XCTAssertTrue(try store.listContacts(options: ListOptions(includeInvalid: true)).isEmpty)
        XCTAssertEqual(validationError { _ = try store.addContact(contact: NewContact(name: "  ")) }?.field, "name")
        XCTAssertEqual(validationError { _ = try store.addContact(contact: NewContact(name: "王芳", emails: ["wangfang.example.com"])) }?.field, "emails")
        XCTAssertEqual(validationError { _ = try self.open("other.db", region: "XX1") }?.field, "region")
    }

    func testUnknownIdsAreTypedNotFoundErrors() throws {
        let store = try open()
        let id = "0190f0f0-0000-7000-8000-000000000000"
        XCTAssertThrowsError(try store.getContact(id: id)) { error in
            guard case let OutpostError.NotFound(kind, foundId) = error else { return XCTFail("\(error)") }
            XCTAssertEqual(kind, "contact")
            XCTAssertEqual(foundId, id)
        }
    }

    func testAFileThatIsNotADatabaseIsAStorageErrorAndIsLeftAlone() throws {
        let url = dir.appendingPathComponent("notes.db")
        let text = String(repeating: "这不是数据库 - this is not a database, just some text that is long enough ", count: 4)
        try text.write(to: url, atomically: true, encoding: .utf8)
        let before = try Data(contentsOf: url)
        XCTAssertThrowsError(try open("notes.db")) { error in
            guard case let OutpostError.Storage(problem, reason) = error else { return XCTFail("\(error)") }
            XCTAssertEqual(problem, .corrupt)
            XCTAssertFalse(reason.contains(self.dir.path))
        }
        XCTAssertEqual(try Data(contentsOf: url), before)
    }

    func testTheChangeListenerFiresAfterEveryWrite() throws {
        let store = try open()
        let listener = RecordingListener()
        listener.store = store
        store.setChangeListener(listener: listener)
        let zhang = try store.addContact(contact: zhangWei())
        XCTAssertEqual(listener.seen, [RecordChange(kind: .contact, id: zhang.id, origin: .local)])
        _ = try store.editContact(id: zhang.id, patch: ContactPatch(title: "总监"))
        _ = try store.invalidateContact(id: zhang.id, reason: "离职")
        XCTAssertEqual(listener.seen.count, 3)
        XCTAssertEqual(listener.namesSeen, ["张伟", "张伟", "张伟"])
        _ = validationError { _ = try store.addContact(contact: NewContact(name: "")) }
        XCTAssertEqual(listener.seen.count, 3)
        store.setChangeListener(listener: nil)
        _ = try store.addContact(contact: NewContact(name: "李娜"))
        XCTAssertEqual(listener.seen.count, 3)
    }

    func testAThrowingListenerDoesNotFailTheWrite() throws {
        let store = try open()
        let listener = RecordingListener()
        listener.shouldThrow = true
        store.setChangeListener(listener: listener)
        let zhang = try store.addContact(contact: zhangWei())
        XCTAssertEqual(listener.seen.count, 1)
        XCTAssertEqual(try store.getContact(id: zhang.id).name, "张伟")
    }

    func testTwoStoresOnTwoFilesAtOnce() throws {
        let alice = try open("alice.db", user: "alice")
        let bob = try open("bob.db", user: "bob", region: "HK")
        let a = try alice.addContact(contact: zhangWei())
        let b = try bob.addContact(contact: NewContact(name: "陈大文", phones: ["9123 4567"]))
        XCTAssertEqual(b.phones, ["+85291234567"])
        XCTAssertEqual(try alice.listContacts(options: ListOptions()).map(\.id), [a.id])
        XCTAssertEqual(try bob.listContacts(options: ListOptions()).map(\.id), [b.id])
        XCTAssertThrowsError(try alice.getContact(id: b.id))
        XCTAssertNotEqual(try alice.status().deviceId, try bob.status().deviceId)
    }

    func testCallsFromManyThreadsAtOnceAreSafe() throws {
        let store = try open()
        let listener = RecordingListener()
        store.setChangeListener(listener: listener)
        let threads = 8, perThread = 20
        let lock = NSLock()
        var ids: [String] = []
        var failures: [String] = []
        DispatchQueue.concurrentPerform(iterations: threads) { t in
            for i in 0..<perThread {
                do {
                    let phone = String(format: "138%04d%04d", t, i)
                    let c = try store.addContact(contact: NewContact(name: "客户\(t)-\(i)", company: "华强\(t)", phones: [phone]))
                    _ = try store.editContact(id: c.id, patch: ContactPatch(title: "经理\(i)"))
                    _ = try store.search(query: "华强\(t)", options: SearchOptions(limit: 5))
                    _ = try store.listContacts(options: ListOptions(limit: 10))
                    lock.lock(); ids.append(c.id); lock.unlock()
                } catch {
                    lock.lock(); failures.append("\(error)"); lock.unlock()
                }
            }
        }
        XCTAssertEqual(failures, [])
        XCTAssertEqual(Set(ids).count, threads * perThread)
        XCTAssertEqual(try store.listContacts(options: ListOptions()).count, threads * perThread)
        XCTAssertEqual(listener.seen.count, threads * perThread * 2)
    }

    func testChecksInAndOutOfAVisit() throws {
        let store = try open()
        let zhang = try store.addContact(contact: zhangWei())
        let visit = try store.checkIn(checkIn: CheckIn(
            contactId: zhang.id, lat: 22.5431, lon: 114.0579, accuracyM: 12.5, deviceTime: "2026-11-23T09:30:00+08:00"
        ))
        XCTAssertEqual(visit.status, "open")
        XCTAssertEqual(visit.day, "2026-11-23")
        let closed = try store.checkOut(visitId: visit.id, checkOut: CheckOut(notes: "谈了报价", nextFollowUp: "2026-12-01"))
        XCTAssertEqual(closed.status, "closed")
        XCTAssertEqual(try store.listVisits(filter: VisitFilter(contactId: zhang.id)).map(\.id), [visit.id])
        XCTAssertEqual(validationError { _ = try store.checkIn(checkIn: CheckIn(contactId: zhang.id, lat: 91, lon: 0)) }?.field, "lat")
    }

    /// AMap (GCJ-02) and Baidu (BD-09) positions of a Shenzhen customer at WGS-84 22.5431, 113.9480.
    func testPositionsFromChineseMapsAreStoredInWgs84() throws {
        let store = try open()
        let wang = try store.addContact(contact: NewContact(name: "王芳"))
        let located = try store.locateContact(id: wang.id, lat: 22.540094, lon: 113.952883, coords: .gcj02)
        XCTAssertEqual(located.extra["location_source"], "manual:gcj02")
        XCTAssertEqual(Double(located.extra["lat"] ?? "") ?? 0, 22.5431, accuracy: 2e-5)
        let amap = try store.checkInVerified(checkIn: CheckIn(
            contactId: wang.id, lat: 22.540094, lon: 113.952883, accuracyM: 10, coords: .gcj02
        ), mockLocation: false)
        XCTAssertEqual(amap.check.verdict, "verified")
        XCTAssertEqual(amap.visit.lon, 113.9480, accuracy: 2e-5)
        let baidu = try store.checkInVerified(checkIn: CheckIn(
            contactId: wang.id, lat: 22.545823, lon: 113.959419, accuracyM: 10, coords: .bd09
        ), mockLocation: false)
        XCTAssertEqual(baidu.check.verdict, "verified")
    }

    func testImportsACsvAndReportsProgress() throws {
        let store = try open()
        let csv = dir.appendingPathComponent("客户.csv")
        let text = "姓名,公司,手机,微信号\n张伟,华强科技,138 0013 8000,zw88\n李娜,华为,12345,\n张伟,华强科技,+86 138-0013-8000,\n"
        try text.data(using: .utf8)!.write(to: csv)
        let progress = RecordingProgress()
        let summary = try store.importFileWithProgress(path: csv.path, options: ImportOptions(), listener: progress)
        XCTAssertEqual(summary.rows, 3)
        XCTAssertEqual(summary.imported, 1)
        XCTAssertEqual(summary.skipped, 1)
        XCTAssertEqual(summary.duplicates, 1)
        XCTAssertEqual(progress.seen.last?.0, 3)
        XCTAssertEqual(progress.seen.last?.1, 3)
        XCTAssertEqual(try store.listContacts(options: ListOptions()).first?.extra["微信号"], "zw88")
    }
}

/// Collects an import's progress reports.
final class RecordingProgress: ImportProgressListener, @unchecked Sendable {
    private let lock = NSLock()
    private var reports: [(Int64, Int64)] = []

    func onProgress(done: Int64, total: Int64) throws {
        lock.lock(); reports.append((done, total)); lock.unlock()
    }

    var seen: [(Int64, Int64)] { lock.lock(); defer { lock.unlock() }; return reports }
}

/// Mirror of android/src/test/kotlin/app/outpost/SyncTest.kt: device stores syncing through the
/// real outpost-server binary (see SyncServer.swift), started per test and stopped in tearDown.
final class SyncTests: XCTestCase {
    private var dir: URL!
    private var servers: [SyncServer] = []

    /// A device: its store and the token it was enrolled with.
    private struct Device {
        let store: OutpostStore
        let deviceId: String
        let token: String
    }

    override func setUpWithError() throws {
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("outpost-swift-sync-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        servers.forEach { $0.stop() }
        servers = []
        try? FileManager.default.removeItem(at: dir)
    }

    private func startServer() throws -> SyncServer {
        let server = try SyncServer(dataDir: dir.appendingPathComponent("server"))
        servers.append(server)
        return server
    }

    private func device(_ server: SyncServer, tenant: String, user: String) throws -> Device {
        let (deviceId, token) = try server.enrollDevice(tenant: tenant, user: user)
        let store = try OutpostStore.open(path: dir.appendingPathComponent("\(user).db").path, options: StoreOptions(region: "CN", user: user))
        return Device(store: store, deviceId: deviceId, token: token)
    }

    @discardableResult
    private func sync(_ device: Device, _ server: SyncServer) async throws -> SyncReport {
        try await device.store.sync(server: server.url, token: device.token)
    }

    private func zhangWei(company: String = "深圳市华强科技有限公司") -> NewContact {
        NewContact(
            name: "张伟",
            company: company,
            title: "采购经理",
            phones: ["138 0013 8000"],
            emails: ["Zhang.Wei@HuaQiang.example"],
            extra: ["wechat": "zhangwei88"]
        )
    }

    private func all(_ store: OutpostStore) throws -> [Contact] {
        try store.listContacts(options: ListOptions(includeInvalid: true)).sorted { $0.id < $1.id }
    }

    func testAContactAddedOnOneDeviceArrivesOnTheOther() async throws {
        let server = try startServer()
        let tenant = try server.createTenant("华强销售")
        let alice = try device(server, tenant: tenant, user: "alice")
        let bob = try device(server, tenant: tenant, user: "bob")

        let added = try alice.store.addContact(contact: zhangWei())
        XCTAssertEqual(added.syncState, "local")
        let pushed = try await sync(alice, server)
        XCTAssertGreaterThan(pushed.pushed, 0)
        XCTAssertEqual(pushed.status, "ok")
        XCTAssertEqual(try alice.store.status().outboxLen, 0)
        let onAlice = try alice.store.getContact(id: added.id)
        XCTAssertEqual(onAlice.syncState, "synced")

        let pulled = try await sync(bob, server)
        XCTAssertGreaterThan(pulled.pulled, 0)
        let onBob = try bob.store.getContact(id: added.id)
        XCTAssertEqual(onBob, onAlice)
        XCTAssertEqual(onBob.phones, ["+8613800138000"])
        XCTAssertEqual(onBob.owner, "alice")
        XCTAssertEqual(onBob.syncState, "synced")

        let status = try bob.store.status()
        XCTAssertEqual(status.server, server.url)
        XCTAssertGreaterThan(status.cursor, 0)
        XCTAssertNotNil(status.lastSyncAt)
        XCTAssertEqual(status.outboxLen, 0)
        XCTAssertEqual(status.rejected, [])
        let again = try await bob.store.sync()
        XCTAssertEqual(again.pushed + again.pulled, 0)
    }

    func testOfflineAddsOnBothDevicesConvergeWhenTheySyncConcurrently() async throws {
        let server = try startServer()
        let tenant = try server.createTenant("华强销售")
        let alice = try device(server, tenant: tenant, user: "alice")
        let bob = try device(server, tenant: tenant, user: "bob")
        for name in ["张伟", "李娜", "王芳"] { _ = try alice.store.addContact(contact: NewContact(name: name, company: "华强")) }
        for (i, name) in ["陈大文", "刘洋"].enumerated() {
            _ = try bob.store.addContact(contact: NewContact(name: name, phones: ["139 1234 567\(i)"]))
        }

        async let a = alice.store.sync(server: server.url, token: alice.token)
        async let b = bob.store.sync(server: server.url, token: bob.token)
        _ = try await (a, b)
        _ = try await alice.store.sync()
        _ = try await bob.store.sync()
        _ = try await alice.store.sync()

        let onAlice = try all(alice.store)
        XCTAssertEqual(onAlice.count, 5)
        XCTAssertEqual(onAlice, try all(bob.store))
        XCTAssertTrue(onAlice.allSatisfy { $0.syncState == "synced" })
    }

    /// Alice and Bob both have a contact, then change its title concurrently; both synced.
    private func concurrentTitleEdits(_ server: SyncServer) async throws -> (Device, Device, String) {
        let tenant = try server.createTenant("华强销售")
        let alice = try device(server, tenant: tenant, user: "alice")
        let bob = try device(server, tenant: tenant, user: "bob")
        let id = try alice.store.addContact(contact: zhangWei()).id
        try await sync(alice, server)
        try await sync(bob, server)
        XCTAssertEqual(try bob.store.getContact(id: id).title, "采购经理")

        _ = try alice.store.editContact(id: id, patch: ContactPatch(title: "采购总监", address: "深圳市福田区华强北路1号"))
        _ = try bob.store.editContact(id: id, patch: ContactPatch(company: "华强电子", title: "总经理"))
        try await sync(alice, server)
        try await sync(bob, server)
        try await sync(alice, server)
        return (alice, bob, id)
    }

    func testConcurrentEditsOfOneFieldShowTheSameWinnerAndListBothValues() async throws {
        let server = try startServer()
        let (alice, bob, id) = try await concurrentTitleEdits(server)

        let onAlice = try alice.store.getContact(id: id)
        XCTAssertEqual(onAlice, try bob.store.getContact(id: id))
        XCTAssertTrue(["采购总监", "总经理"].contains(onAlice.title ?? ""))
        XCTAssertEqual(onAlice.company, "华强电子")
        XCTAssertEqual(onAlice.address, "深圳市福田区华强北路1号")

        let conflicts = try alice.store.contactConflicts(id: id)
        XCTAssertEqual(conflicts, try bob.store.contactConflicts(id: id))
        XCTAssertEqual(conflicts.map(\.field), ["title"])
        let values = conflicts.first?.values ?? []
        XCTAssertEqual(Set(values.map(\.value)), ["采购总监", "总经理"])
        XCTAssertEqual(values.first?.value, onAlice.title)
        XCTAssertEqual(Set(values.map(\.actor)), ["alice", "bob"])
    }

    func testResolvingAConflictOnOneDeviceClearsItOnBothAfterSync() async throws {
        let server = try startServer()
        let (alice, bob, id) = try await concurrentTitleEdits(server)
        XCTAssertEqual(try bob.store.contactConflicts(id: id).count, 1)

        let resolved = try bob.store.resolveContactConflict(id: id, field: "title", value: "销售总监")
        XCTAssertEqual(resolved.title, "销售总监")
        XCTAssertEqual(try bob.store.contactConflicts(id: id), [])
        XCTAssertEqual(try alice.store.contactConflicts(id: id).count, 1)

        try await sync(bob, server)
        try await sync(alice, server)
        XCTAssertEqual(try alice.store.contactConflicts(id: id), [])
        XCTAssertEqual(try alice.store.getContact(id: id).title, "销售总监")
        XCTAssertEqual(try alice.store.getContact(id: id), try bob.store.getContact(id: id))
    }

    func testTheChangeListenerHearsRecordsThatArriveBySync() async throws {
        let server = try startServer()
        let tenant = try server.createTenant("华强销售")
        let alice = try device(server, tenant: tenant, user: "alice")
        let bob = try device(server, tenant: tenant, user: "bob")
        let listener = RecordingListener()
        listener.store = bob.store
        bob.store.setChangeListener(listener: listener)
        let zhang = try alice.store.addContact(contact: zhangWei())
        let li = try alice.store.addContact(contact: NewContact(name: "李娜"))
        try await sync(alice, server)
        XCTAssertEqual(listener.seen, [])

        try await sync(bob, server)
        XCTAssertEqual(
            Set(listener.seen),
            [RecordChange(kind: .contact, id: zhang.id, origin: .sync), RecordChange(kind: .contact, id: li.id, origin: .sync)]
        )
        XCTAssertEqual(Set(listener.namesSeen), ["张伟", "李娜"])
    }

    func testARepHoldsOnlyTheirCustomersNeverTheAmountAndLosesAReassignedOne() async throws {
        let server = try startServer()
        let tenant = try server.createTenant("华东销售", sharing: "private")
        try server.createTeam(tenant: tenant, name: "east", manager: "boss", members: ["alice"])
        func enrolled(_ user: String, _ role: String) throws -> Device {
            let (deviceId, token) = try server.enrollDevice(tenant: tenant, user: user, role: role)
            let store = try OutpostStore.open(path: dir.appendingPathComponent("\(user).db").path, options: StoreOptions(region: "CN", user: user))
            return Device(store: store, deviceId: deviceId, token: token)
        }
        let alice = try enrolled("alice", "rep")
        let boss = try enrolled("boss", "manager")
        let carol = try enrolled("carol", "rep")

        let zhang = try alice.store.addContact(contact: NewContact(name: "张伟", phones: ["138 0013 8000"]))
        try await sync(alice, server)
        try await sync(boss, server)
        XCTAssertEqual(try boss.store.access()?.role, "manager")
        let deal = try boss.store.addDeal(deal: NewDeal(title: "年度框架协议", contactId: zhang.id, amount: 886_655.25))
        try await sync(boss, server)

        try await sync(alice, server)
        XCTAssertEqual(try alice.store.getDeal(id: deal.id).title, "年度框架协议")
        XCTAssertNil(try alice.store.getDeal(id: deal.id).amount)
        XCTAssertThrowsError(try alice.store.setDealField(dealId: deal.id, field: "amount", value: 1)) { error in
            guard case OutpostError.Permission = error else { return XCTFail("\(error)") }
        }

        try server.assign(tenant: tenant, record: zhang.id, to: "carol")
        let report = try await sync(alice, server)
        XCTAssertGreaterThanOrEqual(report.purged, 2)
        XCTAssertThrowsError(try alice.store.getContact(id: zhang.id))
        try await sync(carol, server)
        XCTAssertEqual(try carol.store.getContact(id: zhang.id).name, "张伟")

        try server.setLease(tenant: tenant, days: 3, graceDays: 1)
        try await sync(carol, server)
        let day: Int64 = 24 * 3600 * 1000
        XCTAssertEqual(try carol.store.leasePolicy(), LeasePolicy(leaseMs: 3 * day, graceMs: day))
    }

    func testARevokedDeviceGetsATypedAuthErrorAndItsStoreIsWiped() async throws {
        let server = try startServer()
        let tenant = try server.createTenant("华强销售")
        let alice = try device(server, tenant: tenant, user: "alice")
        let bob = try device(server, tenant: tenant, user: "bob")
        let marker = "RevocationMarkerTradingCo"
        _ = try alice.store.addContact(contact: zhangWei(company: marker))
        try await sync(alice, server)
        try await sync(bob, server)
        _ = try bob.store.addContact(contact: NewContact(name: "李娜", notes: "unsynced \(marker)"))
        let bobFile = dir.appendingPathComponent("bob.db")
        XCTAssertTrue(fileContains(bobFile, marker))

        try server.revokeDevice(bob.deviceId)
        do {
            _ = try await bob.store.sync()
            XCTFail("a revoked device synced")
        } catch let OutpostError.Auth(_, revoked) {
            XCTAssertTrue(revoked)
        }
        XCTAssertEqual(try all(bob.store), [])
        let status = try bob.store.status()
        XCTAssertEqual(status.outboxLen, 0)
        XCTAssertEqual(status.records, [])
        XCTAssertNil(status.server)
        XCTAssertFalse(fileContains(bobFile, marker), "record content remains in the wiped file")

        let ok = try await sync(alice, server)
        XCTAssertEqual(ok.status, "ok")
        XCTAssertEqual(try all(alice.store).count, 1)
    }

    func testADeadServerIsANetworkErrorAndNothingIsLost() async throws {
        let first = try startServer()
        let tenant = try first.createTenant("华强销售")
        let alice = try device(first, tenant: tenant, user: "alice")
        let bob = try device(first, tenant: tenant, user: "bob")
        try await sync(alice, first)
        first.stop()

        let zhang = try alice.store.addContact(contact: zhangWei())
        _ = try alice.store.editContact(id: zhang.id, patch: ContactPatch(title: "采购总监"))
        let before = try alice.store.status()
        XCTAssertGreaterThan(before.outboxLen, 0)
        do {
            _ = try await alice.store.sync()
            XCTFail("synced with a dead server")
        } catch let OutpostError.Network(reason) {
            XCTAssertFalse(reason.contains("张伟"))
        }
        let after = try alice.store.status()
        XCTAssertEqual(after.outboxLen, before.outboxLen)
        XCTAssertEqual(after.cursor, before.cursor)
        XCTAssertEqual(try alice.store.getContact(id: zhang.id).syncState, "local")

        let second = try startServer()
        let report = try await sync(alice, second)
        XCTAssertEqual(report.pushed, before.outboxLen)
        XCTAssertEqual(try alice.store.status().outboxLen, 0)
        try await sync(bob, second)
        XCTAssertEqual(try alice.store.getContact(id: zhang.id), try bob.store.getContact(id: zhang.id))
    }

    func testSyncWantsTheServerAndTokenTogether() async throws {
        let store = try OutpostStore.open(path: dir.appendingPathComponent("rep.db").path, options: StoreOptions())
        for (server, token, field) in [(nil, nil, "server"), ("http://127.0.0.1:9", nil, "token")] as [(String?, String?, String)] {
            do {
                _ = try await store.sync(server: server, token: token)
                XCTFail("sync without \(field) succeeded")
            } catch let OutpostError.Validation(refused, _) {
                XCTAssertEqual(refused, field)
            }
        }
        XCTAssertThrowsError(try store.setServer(url: "ftp://127.0.0.1", token: "t"))
        XCTAssertNil(try store.status().server)
        try store.setServer(url: "http://127.0.0.1:9/", token: "token-1")
        XCTAssertEqual(try store.status().server, "http://127.0.0.1:9")
    }

    /// Whether `marker` is in the database file or its write-ahead log.
    private func fileContains(_ db: URL, _ marker: String) -> Bool {
        let needle = Data(marker.utf8)
        return [db, URL(fileURLWithPath: db.path + "-wal")].contains { url in
            (try? Data(contentsOf: url))?.range(of: needle) != nil
        }
    }
}
