package app.outpost

import app.outpost.core.LeasePolicy
import app.outpost.core.LeaseState
import app.outpost.core.ListOptions
import app.outpost.core.NewContact
import app.outpost.ffi.OutpostException
import app.outpost.ffi.OutpostStore
import app.outpost.ffi.StorageProblem
import app.outpost.ffi.StoreOptions
import app.outpost.ffi.encryptDatabase
import app.outpost.testing.Case
import app.outpost.testing.SyncServer
import java.io.File
import java.nio.file.Files
import java.security.SecureRandom
import kotlinx.coroutines.runBlocking
import kotlin.test.assertEquals
import kotlin.test.assertFailsWith
import kotlin.test.assertFalse
import kotlin.test.assertTrue

/**
 * Security as an app uses it: a database key from the Keystore (here: random bytes), wrong and
 * missing keys, encrypting an existing store, the device lease with an injected clock, and a
 * disabled user's device wiped at its next sync.
 */
class SecurityTest : AutoCloseable {
    private val dir: File = Files.createTempDirectory("outpost-kotlin-security").toFile()
    private val opened = mutableListOf<OutpostStore>()
    private val servers = mutableListOf<SyncServer>()

    private fun randomKey(): ByteArray = ByteArray(32).also { SecureRandom().nextBytes(it) }

    private fun open(name: String, key: ByteArray?, user: String = "rep1"): OutpostStore =
        OutpostStore.open(File(dir, name).path, StoreOptions(region = "CN", user = user, key = key)).also { opened += it }

    private fun zhangWei() = NewContact(
        name = "张伟",
        company = "深圳市华强科技有限公司",
        phones = listOf("138 0013 8000"),
    )

    override fun close() {
        try {
            servers.forEach { it.close() }
        } finally {
            opened.forEach { it.close() }
            dir.deleteRecursively()
        }
    }

    /** Whether [text] (UTF-8) is in the database file or its write-ahead log. */
    private fun onDisk(db: File, text: String): Boolean {
        val needle = text.toByteArray(Charsets.UTF_8)
        return listOf(db, File(db.path + "-wal")).filter { it.exists() }.any { f ->
            val bytes = f.readBytes()
            (0..bytes.size - needle.size).any { i -> needle.indices.all { bytes[i + it] == needle[it] } }
        }
    }

    @Case
    fun anEncryptedStoreRoundTripsAndItsFilesRevealNothing() {
        val key = randomKey()
        val store = open("rep.db", key)
        val zhang = store.addContact(zhangWei())
        val db = File(dir, "rep.db")
        for (secret in listOf("张伟", "华强", "+8613800138000", "SQLite format 3")) {
            assertFalse(onDisk(db, secret), "$secret readable in the encrypted files")
        }
        store.close()
        opened.remove(store)
        val again = open("rep.db", key.copyOf())
        assertEquals("张伟", again.getContact(zhang.id).name)
        assertEquals(listOf(zhang.id), again.search("华强", app.outpost.core.SearchOptions()).map { it.id })
    }

    @Case
    fun wrongAndMissingKeysAreTypedErrorsAndTheFileIsKept() {
        val key = randomKey()
        open("rep.db", key).addContact(zhangWei())
        opened.forEach { it.close() }
        opened.clear()
        val db = File(dir, "rep.db")
        val before = db.readBytes()
        val wrong = assertFailsWith<OutpostException.Storage> { open("rep.db", randomKey()) }
        assertEquals(StorageProblem.WRONG_KEY, wrong.problem)
        val missing = assertFailsWith<OutpostException.Storage> { open("rep.db", null) }
        assertEquals(StorageProblem.KEY_REQUIRED, missing.problem)
        val short = assertFailsWith<OutpostException.Validation> { open("rep.db", ByteArray(16)) }
        assertEquals("key", short.field)
        assertTrue(before.contentEquals(db.readBytes()), "the file must be unchanged")
        assertEquals(1, open("rep.db", key).listContacts(ListOptions()).size)
    }

    @Case
    fun anExistingPlaintextStoreIsEncryptedInPlace() {
        val plain = open("old.db", null)
        val zhang = plain.addContact(zhangWei())
        plain.close()
        opened.remove(plain)
        val db = File(dir, "old.db")
        assertTrue(onDisk(db, "深圳市华强科技有限公司"))
        val key = randomKey()
        encryptDatabase(db.path, key)
        assertFalse(onDisk(db, "深圳市华强科技有限公司"))
        val notEncrypted = assertFailsWith<OutpostException.Storage> { open("other.db", null).close(); open("other.db", key) }
        assertEquals(StorageProblem.NOT_ENCRYPTED, notEncrypted.problem)
        val store = open("old.db", key)
        assertEquals("张伟", store.getContact(zhang.id).name)
        assertEquals(1L, store.status().outboxLen, "the unsynced change is kept")
    }

    @Case
    fun anUnsyncedStoreLocksThenWipesOfflineOnAnInjectedClock() {
        val server = SyncServer(File(dir, "server")).also { servers += it }
        val tenant = server.createTenant("华强销售")
        val (_, token) = server.enrollDevice(tenant, "wang")
        val store = open("wang.db", randomKey(), user = "wang")
        assertEquals(LeaseState.Unleased, store.leaseState(null))
        store.addContact(zhangWei())
        runBlocking { store.sync(server.url, token) }
        val now = System.currentTimeMillis()
        val day = 24L * 3600 * 1000
        assertTrue(store.leaseState(now + day) is LeaseState.Valid)
        assertEquals(LeasePolicy(leaseMs = 14 * day, graceMs = 7 * day), store.leasePolicy())

        // Airplane mode for 15 days: locked, data still there.
        val locked = assertFailsWith<OutpostException.Locked> { store.checkLease(now + 15 * day) }
        assertFalse(locked.wiped)
        // The latest time seen is remembered, so the ordinary calls are refused too.
        assertFailsWith<OutpostException.Locked> { store.listContacts(ListOptions()) }
        assertFailsWith<OutpostException.Locked> { store.addContact(zhangWei()) }
        // A sync renews the lease.
        runBlocking { store.sync() }
        assertEquals(1, store.listContacts(ListOptions()).size)

        // 22 days without a sync: wiped, offline.
        val wiped = assertFailsWith<OutpostException.Locked> { store.checkLease(System.currentTimeMillis() + 22 * day) }
        assertTrue(wiped.wiped)
        assertTrue(store.leaseState(null) is LeaseState.Wiped)
        assertFailsWith<OutpostException.Locked> { store.status() }
        // Signing in again (the wipe forgot the server and token) starts afresh.
        runBlocking { store.sync(server.url, token) }
        assertTrue(store.leaseState(null) is LeaseState.Valid)
        assertEquals(1, store.listContacts(ListOptions()).size, "the server's copy comes back")
    }

    @Case
    fun aDisabledUsersDevicesWipeAtTheirNextSync() {
        val server = SyncServer(File(dir, "server")).also { servers += it }
        val tenant = server.createTenant("华强销售")
        val (_, token1) = server.enrollDevice(tenant, "li")
        val (_, token2) = server.enrollDevice(tenant, "li")
        val phone = open("li-phone.db", randomKey(), user = "li")
        val tablet = open("li-tablet.db", randomKey(), user = "li")
        phone.addContact(zhangWei())
        runBlocking { phone.sync(server.url, token1) }
        runBlocking { tablet.sync(server.url, token2) }
        assertEquals(1, tablet.listContacts(ListOptions()).size)

        server.disableUser(tenant, "li")
        for (device in listOf(phone, tablet)) {
            val e = assertFailsWith<OutpostException.Auth> { runBlocking { device.sync() } }
            assertTrue(e.revoked)
            assertTrue(device.listContacts(ListOptions()).isEmpty())
        }
    }
}
