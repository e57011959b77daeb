package app.outpost

import app.outpost.ffi.ChangeListener
import app.outpost.core.ChangeOrigin
import app.outpost.core.Contact
import app.outpost.core.ContactPatch
import app.outpost.core.ListOptions
import app.outpost.core.NewContact
import app.outpost.ffi.OutpostException
import app.outpost.ffi.OutpostStore
import app.outpost.core.RecordChange
import app.outpost.core.RecordKind
import app.outpost.ffi.StoreOptions
import app.outpost.ffi.SyncReport
import app.outpost.testing.Case
import app.outpost.core.SyncPhase
import app.outpost.streams.SyncEvent
import app.outpost.streams.syncStatus
import app.outpost.testing.SyncServer
import app.outpost.testing.TestCa
import java.io.File
import java.nio.file.Files
import java.util.Collections
import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.async
import kotlinx.coroutines.awaitAll
import kotlinx.coroutines.flow.toList
import kotlinx.coroutines.runBlocking
import kotlin.test.assertEquals
import kotlin.test.assertFailsWith
import kotlin.test.assertFalse
import kotlin.test.assertNotNull
import kotlin.test.assertTrue

/**
 * Sync as an app uses it: device stores on their own files, syncing from coroutines through the
 * real `outpost-server` binary, started for each test on a free port and stopped at its end.
 */
class SyncTest : AutoCloseable {
    private val dir: File = Files.createTempDirectory("outpost-kotlin-sync").toFile()
    private val opened = mutableListOf<OutpostStore>()
    private val servers = mutableListOf<SyncServer>()

    /** A device: its store and the token it was enrolled with. */
    private class Device(val store: OutpostStore, val deviceId: String, val token: String)

    private fun startServer(): SyncServer = SyncServer(File(dir, "server")).also { servers += it }

    /** Enrolls a device of [user] in [tenant] and opens its store on its own file. */
    private fun device(server: SyncServer, tenant: String, user: String): Device {
        val (deviceId, token) = server.enrollDevice(tenant, user)
        val store = OutpostStore.open(File(dir, "$user.db").path, StoreOptions(region = "CN", user = user))
        opened += store
        return Device(store, deviceId, token)
    }

    /** Syncs [device] with [server] from a coroutine, as an app does. */
    private fun sync(device: Device, server: SyncServer): SyncReport =
        runBlocking { device.store.sync(server.url, device.token) }

    private fun zhangWei() = NewContact(
        name = "张伟",
        company = "深圳市华强科技有限公司",
        title = "采购经理",
        phones = listOf("138 0013 8000"),
        emails = listOf("Zhang.Wei@HuaQiang.example"),
        extra = mapOf("wechat" to "zhangwei88"),
    )

    private fun OutpostStore.all(): List<Contact> =
        listContacts(ListOptions(includeInvalid = true)).sortedBy { it.id }

    override fun close() {
        try {
            servers.forEach { it.close() }
        } finally {
            opened.forEach { it.close() }
            dir.deleteRecursively()
        }
    }

    @Case
    fun aPhoneEnrolsWithAOneTimeCodeAndARotatedTokenStopsTheOldOne() {
        val server = startServer()
        val tenant = server.createTenant("华北销售")
        val code = server.invite(tenant, "li_na")
        val store = OutpostStore.open(File(dir, "li_na.db").path, StoreOptions(region = "CN", user = "li_na"))
        opened += store
        val enrolled = runBlocking { store.enroll(server.url, code.lowercase()) }
        assertEquals("li_na", enrolled.user)
        assertEquals(tenant, enrolled.tenantId)
        assertEquals("rep", enrolled.role)

        // The token is remembered: the first sync needs no arguments.
        val added = store.addContact(NewContact(name = "李娜", phones = listOf("139 1000 2000")))
        assertEquals(1L, runBlocking { store.sync() }.pushed)

        // A code works once, on any device.
        val other = OutpostStore.open(File(dir, "other.db").path, StoreOptions(region = "CN", user = "li_na"))
        opened += other
        val used = assertFailsWith<OutpostException.Auth> { runBlocking { other.enroll(server.url, code) } }
        assertTrue(used.message.orEmpty().contains("used already"), used.message)
        val unknown = assertFailsWith<OutpostException.Auth> { runBlocking { other.enroll(server.url, "ZZZZZ-ZZZZZ") } }
        assertTrue(unknown.message.orEmpty().contains("unknown"), unknown.message)

        // After a rotation the old token is refused at once; the new one syncs.
        val newToken = server.rotateToken(enrolled.deviceId)
        assertFailsWith<OutpostException.Auth> { runBlocking { store.sync() } }
        val report = runBlocking { store.sync(server.url, newToken) }
        assertEquals("ok", report.status)
        assertEquals("李娜", store.getContact(added.id).name)
    }

    @Case
    fun aNewContactIsRoutedByTheServerAtSyncAndEveryDeviceSeesTheOwner() {
        val server = startServer()
        val tenant = server.createTenant("华南销售")
        server.setRouting(
            tenant,
            """{"rules": [{"name": "south", "region": ["广东省"], "reps": ["carol"]}, {"reps": ["erin"]}]}""",
        )
        val alice = device(server, tenant, "alice")
        val bob = device(server, tenant, "bob")
        val added = alice.store.addContact(NewContact(name = "张伟", address = "深圳市南山区科技园"))
        assertEquals("alice", added.owner, "offline, the creator owns it")

        sync(alice, server)
        val routed = alice.store.getContact(added.id)
        assertEquals("carol", routed.owner, "routed in the sync that brought it")
        assertEquals("rule 1 (south): region 广东省 → carol", routed.extra["routing_reason"])
        assertEquals("south", routed.extra["routed_by"])
        sync(bob, server)
        assertEquals("carol", bob.store.getContact(added.id).owner)
        val route = bob.store.contactHistory(added.id).filter { it.action.startsWith("route:") }
        assertEquals(listOf("outpost-server"), route.map { it.actor })
    }

    /**
     * HTTPS to the server's own TLS listener with a certificate from a company CA: trusted
     * through `trustedCaPem`, refused (a `Network` error naming TLS, never a crash) with the
     * bundled roots alone or another CA, and a string that is no certificate is named at open.
     */
    @Case
    fun aPhoneSyncsOverHttpsWithItsCompanyCaAndRefusesAnUnknownOne() {
        val ca = TestCa(File(dir, "ca"))
        val server = SyncServer(File(dir, "tls-server"), tls = ca.serverCert to ca.serverKey).also { servers += it }
        assertTrue(server.url.startsWith("https://localhost:"), server.url)
        val tenant = server.createTenant("华东销售")
        fun open(user: String, trusted: List<String>): Pair<OutpostStore, String> {
            val (_, token) = server.enrollDevice(tenant, user)
            val store = OutpostStore.open(
                File(dir, "$user.db").path,
                StoreOptions(region = "CN", user = user, trustedCaPem = trusted),
            )
            opened += store
            return store to token
        }
        val (carol, carolToken) = open("carol", listOf(ca.caPem))
        val added = carol.addContact(zhangWei())
        val pushed = runBlocking { carol.sync(server.url, carolToken) }
        assertEquals("ok", pushed.status)
        assertEquals(0L, carol.status().outboxLen)

        for ((user, trusted) in listOf("dave" to emptyList(), "erin" to listOf(ca.otherCaPem))) {
            val (store, token) = open(user, trusted)
            val e = assertFailsWith<OutpostException.Network> { runBlocking { store.sync(server.url, token) } }
            assertTrue(e.message.orEmpty().contains("TLS"), "$user: ${e.message}")
            assertEquals(0, store.listContacts(ListOptions()).size)
        }
        val (frank, frankToken) = open("frank", listOf(ca.caPem))
        runBlocking { frank.sync(server.url, frankToken) }
        assertEquals(added.name, frank.getContact(added.id).name)

        val bad = assertFailsWith<OutpostException.Validation> {
            OutpostStore.open(File(dir, "bad.db").path, StoreOptions(trustedCaPem = listOf("不是证书")))
        }
        assertEquals("trusted_ca_pem[0]", bad.field)
    }

    /** The syncStatus() Flow: pushes round by round against the outbox, a first download page by page. */
    @Case
    fun syncStatusReportsPushRoundsAndBootstrapPages() {
        val server = startServer()
        val tenant = server.createTenant("华南销售")
        val alice = device(server, tenant, "alice")
        repeat(2_500) { i -> alice.store.addContact(NewContact(name = "客户$i")) }
        val pushed = runBlocking { alice.store.syncStatus(server.url, alice.token).toList() }
        val finished = pushed.last()
        assertTrue(finished is SyncEvent.Finished, "ends with the report: $finished")
        assertEquals(2_500L, finished.report.pushed)
        val rounds = pushed.filterIsInstance<SyncEvent.Progress>().map { it.progress }
            .filter { it.phase == SyncPhase.PUSH }
        assertTrue(rounds.size >= 5, "a round per batch of 500: $rounds")
        assertTrue(rounds.zipWithNext().all { (a, b) -> a.done < b.done }, "$rounds")
        assertEquals(2_500L, rounds.last().done)
        assertTrue(rounds.all { it.total == 2_500L }, "the outbox at the start: $rounds")

        val bob = device(server, tenant, "bob")
        val events = runBlocking { bob.store.syncStatus(server.url, bob.token).toList() }
        val pages = events.filterIsInstance<SyncEvent.Progress>().map { it.progress }
            .filter { it.phase == SyncPhase.BOOTSTRAP }
        assertTrue(pages.size >= 2, "page by page: $pages")
        assertTrue(pages.zipWithNext().all { (a, b) -> a.done < b.done }, "$pages")
        assertEquals(2_500L, pages.last().done)
        assertTrue(pages.all { it.total == null }, "a bootstrap's size is not known ahead")
        assertTrue(events.last() is SyncEvent.Finished)
        assertEquals(2_500L, bob.store.status().records.sumOf { it.count })
    }

    @Case
    fun aContactAddedOnOneDeviceArrivesOnTheOther() {
        val server = startServer()
        val tenant = server.createTenant("华强销售")
        val alice = device(server, tenant, "alice")
        val bob = device(server, tenant, "bob")

        val added = alice.store.addContact(zhangWei())
        assertEquals("local", added.syncState)
        val pushed = sync(alice, server)
        assertTrue(pushed.pushed > 0, "alice pushed nothing: $pushed")
        assertEquals("ok", pushed.status)
        assertEquals(0L, alice.store.status().outboxLen)
        val onAlice = alice.store.getContact(added.id)
        assertEquals("synced", onAlice.syncState, "acknowledged by the server")

        val pulled = sync(bob, server)
        assertTrue(pulled.pulled > 0, "bob received nothing: $pulled")
        val onBob = bob.store.getContact(added.id)
        assertEquals(onAlice, onBob, "same fields on both devices")
        assertEquals(listOf("+8613800138000"), onBob.phones)
        assertEquals("alice", onBob.owner)
        assertEquals(mapOf("wechat" to "zhangwei88"), onBob.extra)
        assertEquals("synced", onBob.syncState)

        val status = bob.store.status()
        assertEquals(server.url, status.server)
        assertTrue(status.cursor > 0, "cursor not moved: $status")
        assertNotNull(status.lastSyncAt)
        assertEquals(0L, status.outboxLen)
        assertTrue(status.rejected.isEmpty())
        // Remembered: later syncs need neither the URL nor the token.
        val again = runBlocking { bob.store.sync() }
        assertEquals(0L, again.pushed + again.pulled, "nothing new: $again")
    }

    @Case
    fun offlineAddsOnBothDevicesConvergeWhenTheySyncConcurrently() {
        val server = startServer()
        val tenant = server.createTenant("华强销售")
        val alice = device(server, tenant, "alice")
        val bob = device(server, tenant, "bob")
        listOf("张伟", "李娜", "王芳").forEach { alice.store.addContact(NewContact(name = it, company = "华强")) }
        listOf("陈大文", "刘洋").forEach { bob.store.addContact(NewContact(name = it, phones = listOf("139 1234 567${it.length}"))) }

        runBlocking {
            listOf(alice, bob).map { d -> async(Dispatchers.IO) { d.store.sync(server.url, d.token) } }.awaitAll()
        }
        // Each may have synced before the other pushed: one more round each settles it.
        runBlocking {
            alice.store.sync()
            bob.store.sync()
            alice.store.sync()
        }
        val onAlice = alice.store.all()
        assertEquals(5, onAlice.size, onAlice.map { it.name }.toString())
        assertEquals(onAlice, bob.store.all())
        assertTrue(onAlice.all { it.syncState == "synced" }, onAlice.map { it.syncState }.toString())
    }

    /** Alice and Bob both have a contact, then change its title concurrently; both synced. */
    private fun concurrentTitleEdits(server: SyncServer): Triple<Device, Device, String> {
        val tenant = server.createTenant("华强销售")
        val alice = device(server, tenant, "alice")
        val bob = device(server, tenant, "bob")
        val id = alice.store.addContact(zhangWei()).id
        sync(alice, server)
        sync(bob, server)
        assertEquals("采购经理", bob.store.getContact(id).title)

        alice.store.editContact(id, ContactPatch(title = "采购总监", address = "深圳市福田区华强北路1号"))
        bob.store.editContact(id, ContactPatch(title = "总经理", company = "华强电子"))
        sync(alice, server)
        sync(bob, server)
        sync(alice, server)
        return Triple(alice, bob, id)
    }

    @Case
    fun concurrentEditsOfOneFieldShowTheSameWinnerAndListBothValues() {
        val server = startServer()
        val (alice, bob, id) = concurrentTitleEdits(server)

        val onAlice = alice.store.getContact(id)
        val onBob = bob.store.getContact(id)
        assertEquals(onAlice, onBob, "both devices converge")
        assertTrue(onAlice.title in setOf("采购总监", "总经理"), "winner: ${onAlice.title}")
        assertEquals("华强电子", onAlice.company, "a field edited on one side only merges")
        assertEquals("深圳市福田区华强北路1号", onAlice.address, "a field edited on one side only merges")

        val conflicts = alice.store.contactConflicts(id)
        assertEquals(conflicts, bob.store.contactConflicts(id), "the same conflicts on both devices")
        val title = conflicts.single()
        assertEquals("title", title.field)
        assertEquals(setOf("采购总监", "总经理"), title.values.map { it.value }.toSet())
        assertEquals(onAlice.title, title.values.first().value, "the winner comes first")
        assertEquals(setOf("alice", "bob"), title.values.map { it.actor }.toSet())
        assertTrue(title.values.all { it.at.isNotBlank() })
    }

    @Case
    fun resolvingAConflictOnOneDeviceClearsItOnBothAfterSync() {
        val server = startServer()
        val (alice, bob, id) = concurrentTitleEdits(server)
        assertEquals(1, bob.store.contactConflicts(id).size)

        // A value none of the devices wrote is not a choice among them: it takes the explicit call.
        val notAChoice = assertFailsWith<OutpostException.Validation> {
            bob.store.resolveContactConflict(id, "title", "销售总监")
        }
        assertEquals("title", notAChoice.field)
        val resolved = bob.store.resolveContactConflictWithNewValue(id, "title", "销售总监")
        assertEquals("销售总监", resolved.title)
        assertTrue(bob.store.contactConflicts(id).isEmpty(), "resolved here at once")
        assertEquals(1, alice.store.contactConflicts(id).size, "alice has not synced yet")

        sync(bob, server)
        sync(alice, server)
        assertTrue(alice.store.contactConflicts(id).isEmpty(), "cleared on alice after sync")
        assertEquals("销售总监", alice.store.getContact(id).title)
        assertEquals(alice.store.getContact(id), bob.store.getContact(id))
        assertEquals("synced", bob.store.getContact(id).syncState)
    }

    @Case
    fun theChangeListenerHearsRecordsThatArriveBySync() {
        val server = startServer()
        val tenant = server.createTenant("华强销售")
        val alice = device(server, tenant, "alice")
        val bob = device(server, tenant, "bob")
        val seen = Collections.synchronizedList(mutableListOf<RecordChange>())
        val namesReadInListener = Collections.synchronizedList(mutableListOf<String>())
        bob.store.setChangeListener(object : ChangeListener {
            override fun onChange(change: RecordChange) {
                seen += change
                // The store is unlocked when the listener runs: a UI refresh can read it.
                namesReadInListener += bob.store.getContact(change.id).name
            }
        })
        val zhang = alice.store.addContact(zhangWei())
        val li = alice.store.addContact(NewContact(name = "李娜"))
        sync(alice, server)
        assertTrue(seen.isEmpty(), "bob has not synced yet")

        sync(bob, server)
        assertEquals(
            setOf(RecordChange(RecordKind.CONTACT, zhang.id, ChangeOrigin.SYNC), RecordChange(RecordKind.CONTACT, li.id, ChangeOrigin.SYNC)),
            seen.toSet(),
            "told before sync() returned",
        )
        assertEquals(setOf("张伟", "李娜"), namesReadInListener.toSet())

        // An edit arriving later is a sync change too; bob's own write stays a local one.
        alice.store.editContact(zhang.id, ContactPatch(title = "总监"))
        sync(alice, server)
        seen.clear()
        bob.store.addContact(NewContact(name = "王芳"))
        assertEquals(listOf(ChangeOrigin.LOCAL), seen.map { it.origin })
        seen.clear()
        sync(bob, server)
        assertEquals(listOf(RecordChange(RecordKind.CONTACT, zhang.id, ChangeOrigin.SYNC)), seen.toList())
    }

    @Case
    fun aRevokedDeviceGetsATypedAuthErrorAndItsStoreIsWiped() {
        val server = startServer()
        val tenant = server.createTenant("华强销售")
        val alice = device(server, tenant, "alice")
        val bob = device(server, tenant, "bob")
        val marker = "RevocationMarkerTradingCo"
        alice.store.addContact(zhangWei().copy(company = marker))
        sync(alice, server)
        sync(bob, server)
        bob.store.addContact(NewContact(name = "李娜", notes = "unsynced $marker"))
        val bobFile = File(dir, "bob.db")
        assertTrue(fileContains(bobFile, marker), "the marker should be on disk before the wipe")

        server.revokeDevice(bob.deviceId)
        val e = assertFailsWith<OutpostException.Auth> { runBlocking { bob.store.sync() } }
        assertTrue(e.revoked, "revoked flag: $e")
        assertTrue(bob.store.all().isEmpty(), "records left: ${bob.store.all().map { it.name }}")
        val status = bob.store.status()
        assertEquals(0L, status.outboxLen)
        assertTrue(status.records.isEmpty() && status.syncStates.isEmpty(), status.toString())
        assertEquals(null, status.server, "the token is forgotten")
        assertFalse(fileContains(bobFile, marker), "record content remains in the wiped file")

        // The other device is not affected.
        val ok = sync(alice, server)
        assertEquals("ok", ok.status)
        assertEquals(1, alice.store.all().size)
    }

    @Case
    fun aDeadServerIsANetworkErrorAndNothingIsLost() {
        val first = startServer()
        val tenant = first.createTenant("华强销售")
        val alice = device(first, tenant, "alice")
        val bob = device(first, tenant, "bob")
        sync(alice, first)
        first.close()

        val zhang = alice.store.addContact(zhangWei())
        alice.store.editContact(zhang.id, ContactPatch(title = "采购总监"))
        val before = alice.store.status()
        assertTrue(before.outboxLen > 0)
        val e = assertFailsWith<OutpostException.Network> { runBlocking { alice.store.sync() } }
        assertFalse("$e ${e.reason}".contains("张伟"), "personal data in the error: $e")
        val after = alice.store.status()
        assertEquals(before.outboxLen, after.outboxLen, "the outbox is unchanged")
        assertEquals(before.cursor, after.cursor)
        assertEquals("local", alice.store.getContact(zhang.id).syncState)
        assertEquals("采购总监", alice.store.getContact(zhang.id).title)

        // The server comes back (on the same data, at another port): everything goes through.
        val second = startServer()
        val report = sync(alice, second)
        assertEquals(before.outboxLen, report.pushed, "every queued change pushed: $report")
        assertEquals(0L, alice.store.status().outboxLen)
        sync(bob, second)
        assertEquals(alice.store.getContact(zhang.id), bob.store.getContact(zhang.id))
    }

    @Case
    fun syncWantsTheServerAndTokenTogether() {
        val store = OutpostStore.open(File(dir, "rep.db").path, StoreOptions()).also { opened += it }
        val none = assertFailsWith<OutpostException.Validation> { runBlocking { store.sync() } }
        assertEquals("server", none.field)
        val half = assertFailsWith<OutpostException.Validation> { runBlocking { store.sync("http://127.0.0.1:9", null) } }
        assertEquals("token", half.field)
        val notHttp = assertFailsWith<OutpostException.Validation> { store.setServer("ftp://127.0.0.1", "t") }
        assertEquals("server", notHttp.field)
        assertEquals(null, store.status().server)
        store.setServer("http://127.0.0.1:9/", "token-1")
        assertEquals("http://127.0.0.1:9", store.status().server)
    }

    /** Whether [marker] (ASCII) is in the database file or its write-ahead log. */
    private fun fileContains(db: File, marker: String): Boolean {
        val needle = marker.toByteArray(Charsets.UTF_8)
        return listOf(db, File(db.path + "-wal")).filter { it.exists() }.any { f ->
            val bytes = f.readBytes()
            (0..bytes.size - needle.size).any { i -> needle.indices.all { bytes[i + it] == needle[it] } }
        }
    }
}
