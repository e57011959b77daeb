package app.outpost

import app.outpost.core.ContactPatch
import app.outpost.core.LeasePolicy
import app.outpost.core.NewContact
import app.outpost.core.NewDeal
import app.outpost.ffi.OutpostException
import app.outpost.ffi.OutpostStore
import app.outpost.core.SearchOptions
import app.outpost.ffi.StoreOptions
import app.outpost.ffi.SyncReport
import app.outpost.testing.Case
import app.outpost.testing.SyncServer
import java.io.File
import java.nio.file.Files
import kotlinx.coroutines.runBlocking
import kotlin.test.assertEquals
import kotlin.test.assertFailsWith
import kotlin.test.assertFalse
import kotlin.test.assertNotNull
import kotlin.test.assertNull
import kotlin.test.assertTrue

/**
 * Roles and scoped sync through the bindings, against the real server in a private tenant: what
 * a rep's and a manager's apps hold, the deal amount a rep never receives, the permission error
 * an app gets when it tries anyway, a reassigned customer leaving the rep's phone, a refused
 * change undone on the phone while the later edit flows, and the tenant's lease binding it.
 */
class ScopeTest : AutoCloseable {
    private val dir: File = Files.createTempDirectory("outpost-kotlin-scope").toFile()
    private val opened = mutableListOf<OutpostStore>()
    private val server = SyncServer(File(dir, "server"))

    private class Device(val store: OutpostStore, val token: String)

    private fun device(tenant: String, user: String, role: String): Device {
        val (_, token) = server.enrollDevice(tenant, user, role)
        val store = OutpostStore.open(File(dir, "$user.db").path, StoreOptions(region = "CN", user = user))
        opened += store
        return Device(store, token)
    }

    private fun sync(d: Device): SyncReport = runBlocking { d.store.sync(server.url, d.token) }

    override fun close() {
        try {
            server.close()
        } finally {
            opened.forEach { it.close() }
            dir.deleteRecursively()
        }
    }

    @Case
    fun aRepHoldsOnlyTheirCustomersNeverTheAmountAndLosesAReassignedOne() {
        val tenant = server.createTenant("华东销售", sharing = "private")
        server.createTeam(tenant, "east", manager = "boss", members = listOf("alice"))
        val alice = device(tenant, "alice", "rep")
        val boss = device(tenant, "boss", "manager")
        val carol = device(tenant, "carol", "rep")

        val zhang = alice.store.addContact(
            NewContact(name = "张伟", company = "深圳市华强科技有限公司", phones = listOf("138 0013 8000")),
        )
        val wang = carol.store.addContact(NewContact(name = "王芳", phones = listOf("137 0013 7000")))
        sync(alice)
        sync(carol)

        // The manager sees the team's customer (not carol's) and prices a deal with it.
        sync(boss)
        assertEquals("manager", boss.store.access()?.role)
        assertEquals("张伟", boss.store.getContact(zhang.id).name)
        assertFailsWith<OutpostException.NotFound> { boss.store.getContact(wang.id) }
        val deal = boss.store.addDeal(NewDeal(title = "年度框架协议", contactId = zhang.id, amount = 886_655.25))
        assertEquals(886_655.25, boss.store.getDeal(deal.id).amount)
        sync(boss)

        // The rep receives the deal, not its amount, and may not write one.
        sync(alice)
        val access = assertNotNull(alice.store.access())
        assertEquals("rep", access.role)
        assertFalse("field:amount:read" in access.permissions)
        assertEquals("年度框架协议", alice.store.getDeal(deal.id).title)
        assertNull(alice.store.getDeal(deal.id).amount)
        assertFailsWith<OutpostException.Permission> {
            alice.store.setDealField(deal.id, "amount", 1.0)
        }
        val bytes = File(dir, "alice.db").readBytes() +
            (File(dir, "alice.db-wal").takeIf { it.exists() }?.readBytes() ?: ByteArray(0))
        val needle = java.nio.ByteBuffer.allocate(8).order(java.nio.ByteOrder.LITTLE_ENDIAN)
            .putDouble(886_655.25).array()
        assertFalse(bytes.toList().windowed(8).any { it.toByteArray().contentEquals(needle) }, "amount bytes on a rep's disk")

        // Reassigned to carol: gone from alice's phone (search included), on carol's.
        server.assign(tenant, zhang.id, "carol")
        val report = sync(alice)
        assertTrue(report.purged >= 2L, "purged ${report.purged}")
        assertFailsWith<OutpostException.NotFound> { alice.store.getContact(zhang.id) }
        assertTrue(alice.store.search("张伟", SearchOptions(includeInvalid = false, limit = 10u)).isEmpty())
        val gained = sync(carol)
        assertTrue(gained.fetched >= 1L, "fetched ${gained.fetched}")
        assertEquals("张伟", carol.store.getContact(zhang.id).name)

        // The tenant's lease replaces the device's own with the next sync.
        server.setLease(tenant, days = 3, graceDays = 1)
        sync(carol)
        val day = 24L * 3600 * 1000
        assertEquals(LeasePolicy(leaseMs = 3 * day, graceMs = day), carol.store.leasePolicy())
    }

    @Case
    fun aRefusedOwnerChangeIsUndoneAndTheLaterEditStillSyncs() {
        val tenant = server.createTenant("华南销售", sharing = "private")
        server.createTeam(tenant, "south", manager = "boss", members = listOf("alice"))
        // Reps of this tenant may reassign records, until the operator takes it back.
        val kinds = listOf("contact", "visit", "deal", "task", "attachment")
        server.setRole(
            tenant,
            "rep",
            kinds.flatMap { listOf("$it:read", "$it:write") } + listOf("invalidate", "merge", "scope:own", "assign"),
        )
        val alice = device(tenant, "alice", "rep")
        val boss = device(tenant, "boss", "manager")
        val zhang = alice.store.addContact(NewContact(name = "张伟", phones = listOf("138 0013 8000")))
        sync(alice)
        sync(boss)
        server.resetRole(tenant, "rep")

        // The phone, which last heard it may reassign, writes an owner (the server now refuses
        // reassignments by reps), then edits again.
        alice.store.editContact(zhang.id, ContactPatch(owner = "boss"))
        alice.store.editContact(zhang.id, ContactPatch(title = "总监"))
        val report = sync(alice)
        assertEquals(1L, report.rejected, "$report")
        assertEquals("partial", report.status)
        val refusal = report.rejections.single()
        assertEquals(zhang.id, refusal.recordId)
        assertEquals(listOf("owner"), refusal.fields)
        assertFalse(refusal.removed)
        assertTrue("assign" in refusal.reason, refusal.reason)
        val status = alice.store.status()
        assertEquals(listOf(refusal), status.rejected)
        assertEquals(0L, status.outboxLen, "the later edit went in the same sync")
        val now = alice.store.getContact(zhang.id)
        assertEquals("alice", now.owner, "the server's owner")
        assertEquals("总监", now.title)
        assertEquals("synced", now.syncState)
        sync(boss)
        assertEquals("总监", boss.store.getContact(zhang.id).title)

        // The tenant's lease binds the phone: the app may only make it stricter.
        val day = 24L * 3600 * 1000
        server.setLease(tenant, days = 3, graceDays = 1)
        sync(alice)
        val tooLong = assertFailsWith<OutpostException.Validation> {
            alice.store.setLeasePolicy(LeasePolicy(leaseMs = 365 * day, graceMs = day))
        }
        assertEquals("lease_ms", tooLong.field)
        assertEquals(LeasePolicy(leaseMs = 3 * day, graceMs = day), alice.store.leasePolicy())
        alice.store.setLeasePolicy(LeasePolicy(leaseMs = day, graceMs = day))
        sync(alice)
        assertEquals(LeasePolicy(leaseMs = day, graceMs = day), alice.store.leasePolicy())
    }
}
