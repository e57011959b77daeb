package app.outpost

import app.outpost.ffi.ChangeListener
import app.outpost.core.ChangeOrigin
import app.outpost.core.CheckIn
import app.outpost.core.CheckOut
import app.outpost.core.ContactPatch
import app.outpost.core.ContactStatus
import app.outpost.core.ListOptions
import app.outpost.core.NewContact
import app.outpost.ffi.OutpostException
import app.outpost.ffi.OutpostStore
import app.outpost.core.RecordChange
import app.outpost.core.RecordKind
import app.outpost.core.SearchOptions
import app.outpost.ffi.StorageProblem
import app.outpost.ffi.StoreOptions
import app.outpost.core.VisitFilter
import app.outpost.ffi.outpostVersion
import app.outpost.ffi.parseAmount
import app.outpost.ffi.parseDealFieldValue
import app.outpost.streams.changes
import app.outpost.testing.Case
import java.io.File
import java.nio.file.Files
import java.util.Collections
import java.util.concurrent.CountDownLatch
import java.util.concurrent.CyclicBarrier
import java.util.concurrent.Executors
import java.util.concurrent.TimeUnit
import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.delay
import kotlinx.coroutines.launch
import kotlinx.coroutines.runBlocking
import kotlinx.coroutines.withTimeout
import kotlin.test.assertContentEquals
import kotlin.test.assertEquals
import kotlin.test.assertFailsWith
import kotlin.test.assertFalse
import kotlin.test.assertNotNull
import kotlin.test.assertNull
import kotlin.test.assertTrue

/**
 * The bindings as an Android app uses them: every test opens real stores in a fresh temporary
 * directory, against the native library built from this checkout.
 */
class OutpostStoreTest : AutoCloseable {
    private val dir: File = Files.createTempDirectory("outpost-kotlin-test").toFile()
    private val opened = mutableListOf<OutpostStore>()

    private fun open(name: String = "rep.db", user: String = "rep1", region: String = "CN"): OutpostStore =
        OutpostStore.open(File(dir, name).path, StoreOptions(region = region, user = user)).also { opened += it }

    private fun zhangWei() = NewContact(
        name = "张伟",
        company = "深圳市华强科技有限公司",
        title = "采购经理",
        phones = listOf("138 0013 8000"),
        emails = listOf("Zhang.Wei@HuaQiang.example"),
    )

    override fun close() {
        opened.forEach { it.close() }
        dir.deleteRecursively()
    }

    @Case
    fun libraryLoadsAndReportsItsVersion() {
        assertTrue(Regex("""\d+\.\d+\.\d+.*""").matches(outpostVersion()), outpostVersion())
    }

    @Case
    fun opensANewStoreInATempDir() {
        val store = open()
        val status = store.status()
        assertTrue(File(dir, "rep.db").exists(), "database file not created")
        assertEquals("rep1", status.user)
        assertEquals("CN", status.region)
        assertTrue(status.schemaVersion >= 1)
        assertTrue(status.deviceId.isNotBlank())
        assertEquals(0L, status.outboxLen)
        assertTrue(store.listContacts(ListOptions()).isEmpty())
    }

    @Case
    fun addsAChineseContactWithThePhoneInE164() {
        val store = open()
        val added = store.addContact(zhangWei())
        assertEquals("张伟", added.name)
        assertEquals("深圳市华强科技有限公司", added.company)
        assertEquals(listOf("+8613800138000"), added.phones)
        assertEquals(listOf("zhang.wei@huaqiang.example"), added.emails)
        assertEquals("rep1", added.owner, "owner defaults to the store's user")
        assertEquals(ContactStatus.ACTIVE, added.status)
        assertEquals("local", added.syncState)
        assertEquals(added, store.getContact(added.id))
        assertTrue(store.status().outboxLen > 0, "the new contact waits in the outbox")
    }

    @Case
    fun metricsTimeActionsAndCountRecordsCreatedOffline() {
        val store = open()
        store.addContactChecked(NewContact(name = "王芳", phones = listOf("137 1111 2222")))
        store.search("王", SearchOptions())
        val m = store.metrics()
        val quick = m.actions.single { it.action == "contact.quick_create" }
        assertEquals(1L, quick.count)
        assertTrue(quick.p50Ms <= quick.p95Ms && quick.p95Ms <= quick.maxMs)
        assertEquals(1L, m.actions.single { it.action == "search" }.count)
        assertEquals(1L, m.offlineCreated)
        assertEquals(0L, m.offlineSynced, "not synced yet")
        assertEquals(0L, m.crashesRecovered)
        assertTrue(m.syncFailures.isEmpty())
        assertEquals(3L, m.unsentEvents, "quick create, its add, the search")
    }

    @Case
    fun findsAContactByATwoCharacterChineseSubstring() {
        val store = open()
        val zhang = store.addContact(zhangWei())
        store.addContact(NewContact(name = "李娜", company = "广州白云电器有限公司", phones = listOf("+86 139 1234 5678")))
        val found = store.search("华强", SearchOptions())
        assertEquals(listOf(zhang.id), found.map { it.id })
        assertEquals(listOf("李娜"), store.search("白云", SearchOptions()).map { it.name })
        assertEquals(listOf(zhang.id), store.search("张", SearchOptions()).map { it.id }, "one character")
        assertTrue(store.search("华为", SearchOptions()).isEmpty())
        assertEquals(listOf(zhang.id), store.search("13800138000", SearchOptions()).map { it.id }, "phone digits")
    }

    @Case
    fun editChangesOnlyTheGivenFields() {
        val store = open()
        val zhang = store.addContact(zhangWei())
        val edited = store.editContact(zhang.id, ContactPatch(title = "采购总监", phones = listOf("0755-52659655")))
        assertEquals("采购总监", edited.title)
        assertEquals(listOf("+8675552659655"), edited.phones)
        assertEquals(zhang.company, edited.company, "company untouched")
        assertEquals(zhang.emails, edited.emails, "emails untouched")
        assertEquals(edited, store.getContact(zhang.id))
        val cleared = store.editContact(zhang.id, ContactPatch(title = ""))
        assertNull(cleared.title, "an empty string clears a field")
    }

    @Case
    fun historyTellsWhoChangedWhatAndWhen() {
        val store = open(user = "rep1")
        val zhang = store.addContact(zhangWei())
        store.editContact(zhang.id, ContactPatch(title = "采购总监"))
        val history = store.contactHistory(zhang.id)
        assertEquals(listOf("create", "edit"), history.map { it.action })
        assertTrue(history.all { it.actor == "rep1" && it.at.isNotBlank() })
        val create = history[0].changes.associateBy { it.field }
        assertEquals("张伟", create["name"]?.new)
        assertEquals("+8613800138000", create["phones"]?.new)
        val edit = history[1].changes.single()
        assertEquals("title", edit.field)
        assertEquals("采购经理", edit.old)
        assertEquals("采购总监", edit.new)
    }

    @Case
    fun invalidatingHidesTheContactButKeepsIt() {
        val store = open()
        val zhang = store.addContact(zhangWei())
        val li = store.addContact(NewContact(name = "李娜"))
        val invalid = store.invalidateContact(zhang.id, "重复客户")
        assertEquals(ContactStatus.INVALID, invalid.status)
        assertEquals("重复客户", invalid.invalidation?.reason)
        assertEquals("rep1", invalid.invalidation?.by)
        assertEquals(listOf(li.id), store.listContacts(ListOptions()).map { it.id })
        assertTrue(store.search("华强", SearchOptions()).isEmpty(), "hidden from search")
        assertEquals(setOf(zhang.id, li.id), store.listContacts(ListOptions(includeInvalid = true)).map { it.id }.toSet())
        assertEquals(listOf(zhang.id), store.search("华强", SearchOptions(includeInvalid = true)).map { it.id })
        assertEquals(ContactStatus.INVALID, store.getContact(zhang.id).status, "still readable by id")
        val reasonless = assertFailsWith<OutpostException.Validation> { store.invalidateContact(li.id, " ") }
        assertEquals("reason", reasonless.field)
    }

    @Case
    fun invalidatingTwiceKeepsTheFirstReasonAndRestoreBringsItBack() {
        val store = open()
        val zhang = store.addContact(zhangWei())
        store.invalidateContact(zhang.id, "公司已注销")
        val again = assertFailsWith<OutpostException.Validation> { store.invalidateContact(zhang.id, "重复") }
        assertEquals("contact", again.field)
        assertTrue(again.reason.contains("公司已注销"), again.reason)
        assertEquals("公司已注销", store.getContact(zhang.id).invalidation?.reason)
        val back = store.restoreContact(zhang.id)
        assertEquals(ContactStatus.ACTIVE, back.status)
        assertEquals(null, back.invalidation)
        assertEquals(listOf(zhang.id), store.search("华强", SearchOptions()).map { it.id })
        assertEquals("restore", store.contactHistory(zhang.id).last().action)
        assertFailsWith<OutpostException.Validation> { store.restoreContact(zhang.id) }
    }

    @Case
    fun whatAChineseRepTypesIsReadAndShownAsTyped() {
        val store = open()
        val c = store.addContact(
            NewContact(
                name = "王芳",
                phones = listOf("１３８ ００１３ ８０００", "0755-8888 8888 转 123"),
                emails = listOf("ｗａｎｇ＠ｑｑ．ｃｏｍ"),
            ),
        )
        assertEquals(listOf("+8613800138000", "+8675588888888;ext=123"), c.phones)
        assertEquals(mapOf("+8675588888888;ext=123" to "0755-8888 8888 转 123"), c.phonesTyped)
        assertEquals(listOf("wang@qq.com"), c.emails)
        assertEquals(listOf(c.id), store.search("0086 138 0013 8000", SearchOptions()).map { it.id })
        assertEquals(305000.0, parseAmount("amount", "人民币叁拾万伍仟元整"))
        assertEquals(305000.0, parseAmount("amount", "RMB 30.5万"))
        assertEquals(15.0, parseDealFieldValue("discount", "15%"))
        val dollars = assertFailsWith<OutpostException.Validation> { parseAmount("amount", "\$300") }
        assertEquals("amount", dollars.field)
    }

    @Case
    fun unknownExtraFieldsRoundTrip() {
        val store = open()
        val extra = mapOf("wechat" to "zhangwei88", "生日" to "1990-05-01", "loyalty_tier" to "gold")
        val zhang = store.addContact(zhangWei().copy(extra = extra))
        assertEquals(extra, zhang.extra)
        val edited = store.editContact(zhang.id, ContactPatch(title = "总经理"))
        assertEquals(extra, edited.extra, "an edit of a known field keeps the extra ones")
        assertEquals(extra, store.getContact(zhang.id).extra)
        val changed = store.editContact(
            zhang.id,
            ContactPatch(set = mapOf("wechat" to "zw_1988", "region_code" to "GD"), unset = listOf("loyalty_tier")),
        )
        assertEquals(mapOf("wechat" to "zw_1988", "生日" to "1990-05-01", "region_code" to "GD"), changed.extra)
        assertEquals(changed.extra, store.listContacts(ListOptions()).single().extra)
    }

    @Case
    fun aBadPhoneIsATypedValidationExceptionNamingTheField() {
        val store = open()
        val bad = "138-0013-80A0"
        val e = assertFailsWith<OutpostException.Validation> {
            store.addContact(NewContact(name = "王芳", phones = listOf(bad)))
        }
        assertEquals("phones", e.field)
        assertTrue(e.reason.isNotBlank())
        val everything = "${e.field} ${e.reason} ${e.message} $e"
        assertFalse(everything.contains(bad) || everything.contains("0013"), "the number leaked: $everything")
        assertTrue(store.listContacts(ListOptions(includeInvalid = true)).isEmpty(), "nothing was saved")

        val noName = assertFailsWith<OutpostException.Validation> { store.addContact(NewContact(name = "  ")) }
        assertEquals("name", noName.field)
        val badEmail = assertFailsWith<OutpostException.Validation> {
            store.addContact(NewContact(name = "王芳", emails = listOf("wangfang.example.com")))
        }
        assertEquals("emails", badEmail.field)
        val badRegion = assertFailsWith<OutpostException.Validation> { open("other.db", region = "XX1") }
        assertEquals("region", badRegion.field)
    }

    @Case
    fun unknownIdsAreTypedNotFoundExceptions() {
        val store = open()
        val e = assertFailsWith<OutpostException.NotFound> { store.getContact("0190f0f0-0000-7000-8000-000000000000") }
        assertEquals("contact", e.kind)
        assertEquals("0190f0f0-0000-7000-8000-000000000000", e.id)
        assertFailsWith<OutpostException.NotFound> { store.editContact("nope", ContactPatch(title = "x")) }
        assertFailsWith<OutpostException.NotFound> { store.contactHistory("nope") }
    }

    @Case
    fun aFileThatIsNotADatabaseIsAStorageErrorAndIsLeftAlone() {
        val file = File(dir, "notes.db")
        file.writeText("这不是数据库 - this is not a database, just some text that is long enough ".repeat(4))
        val before = file.readBytes()
        val e = assertFailsWith<OutpostException.Storage> { open("notes.db") }
        assertEquals(StorageProblem.CORRUPT, e.problem)
        assertFalse("$e".contains(dir.path), "the path leaked: $e")
        assertContentEquals(before, file.readBytes(), "the file was touched")
    }

    @Case
    fun theChangeListenerFiresAfterEveryWrite() {
        val store = open()
        val seen = Collections.synchronizedList(mutableListOf<RecordChange>())
        val namesSeenInListener = Collections.synchronizedList(mutableListOf<String>())
        val threads = Collections.synchronizedSet(mutableSetOf<Thread>())
        store.setChangeListener(object : ChangeListener {
            override fun onChange(change: RecordChange) {
                seen += change
                threads += Thread.currentThread()
                // The store is unlocked by now: a listener may read it (a UI refresh does).
                namesSeenInListener += store.getContact(change.id).name
            }
        })
        val zhang = store.addContact(zhangWei())
        assertEquals(listOf(RecordChange(RecordKind.CONTACT, zhang.id, ChangeOrigin.LOCAL)), seen.toList())
        store.editContact(zhang.id, ContactPatch(title = "总监"))
        store.invalidateContact(zhang.id, "离职")
        assertEquals(3, seen.size)
        assertTrue(seen.all { it.id == zhang.id && it.kind == RecordKind.CONTACT })
        assertEquals(listOf("张伟", "张伟", "张伟"), namesSeenInListener.toList())
        assertEquals(setOf(Thread.currentThread()), threads.toSet(), "called on the thread that wrote")
        assertFailsWith<OutpostException.Validation> { store.addContact(NewContact(name = "")) }
        assertEquals(3, seen.size, "a refused write is not a change")

        store.setChangeListener(null)
        store.addContact(NewContact(name = "李娜"))
        assertEquals(3, seen.size, "a removed listener is not called")
    }

    /** Any number of listeners, and a Kotlin Flow per collector over them. */
    @Case
    fun severalFlowsSeeEveryChangeAndACancelledOneStopsListening() = runBlocking {
        val store = open()
        val viaSet = Collections.synchronizedList(mutableListOf<RecordChange>())
        store.setChangeListener(object : ChangeListener {
            override fun onChange(change: RecordChange) {
                viaSet += change
            }
        })
        val first = Collections.synchronizedList(mutableListOf<RecordChange>())
        val second = Collections.synchronizedList(mutableListOf<RecordChange>())
        val a = launch(Dispatchers.Default) { store.changes().collect { first += it } }
        val b = launch(Dispatchers.Default) { store.changes().collect { second += it } }
        // A collector registers when it starts: write until both have seen a change.
        withTimeout(10_000) {
            while (first.isEmpty() || second.isEmpty()) {
                store.addContact(NewContact(name = "王芳"))
                delay(20)
            }
        }
        val zhang = store.addContact(zhangWei())
        val made = RecordChange(RecordKind.CONTACT, zhang.id, ChangeOrigin.LOCAL)
        withTimeout(10_000) {
            while (made !in first || made !in second) delay(10)
        }
        assertTrue(made in viaSet, "setChangeListener still works beside the flows")

        a.cancel()
        a.join()
        val li = store.addContact(NewContact(name = "李娜"))
        val later = RecordChange(RecordKind.CONTACT, li.id, ChangeOrigin.LOCAL)
        withTimeout(10_000) {
            while (later !in second) delay(10)
        }
        delay(100)
        assertFalse(later in first, "a cancelled flow's listener was removed")
        assertTrue(later in viaSet)
        b.cancel()
    }

    @Case
    fun aThrowingListenerDoesNotFailTheWrite() {
        val store = open()
        val calls = CountDownLatch(1)
        store.setChangeListener(object : ChangeListener {
            override fun onChange(change: RecordChange) {
                calls.countDown()
                throw IllegalStateException("UI is gone")
            }
        })
        val zhang = store.addContact(zhangWei())
        assertTrue(calls.await(5, TimeUnit.SECONDS), "listener not called")
        assertEquals("张伟", store.getContact(zhang.id).name)
        assertEquals(1, store.listContacts(ListOptions()).size)
    }

    @Case
    fun twoStoresOnTwoFilesAtOnce() {
        val alice = open("alice.db", user = "alice")
        val bob = open("bob.db", user = "bob", region = "HK")
        val a = alice.addContact(zhangWei())
        val b = bob.addContact(NewContact(name = "陈大文", phones = listOf("9123 4567")))
        assertEquals(listOf("+85291234567"), b.phones, "each store uses its own region")
        assertEquals(listOf(a.id), alice.listContacts(ListOptions()).map { it.id })
        assertEquals(listOf(b.id), bob.listContacts(ListOptions()).map { it.id })
        assertFailsWith<OutpostException.NotFound> { alice.getContact(b.id) }
        assertEquals("alice", a.owner)
        assertEquals("bob", b.owner)
        assertTrue(bob.search("华强", SearchOptions()).isEmpty())
        assertTrue(alice.status().deviceId != bob.status().deviceId)
    }

    @Case
    fun callsFromManyThreadsAtOnceAreSafe() {
        val store = open()
        val changes = java.util.concurrent.atomic.AtomicInteger()
        store.setChangeListener(object : ChangeListener {
            override fun onChange(change: RecordChange) {
                changes.incrementAndGet()
            }
        })
        val threads = 8
        val perThread = 20
        val start = CyclicBarrier(threads)
        val pool = Executors.newFixedThreadPool(threads)
        try {
            val futures = (0 until threads).map { t ->
                pool.submit<List<String>> {
                    start.await()
                    (0 until perThread).map { i ->
                        val c = store.addContact(
                            NewContact(name = "客户$t-$i", company = "华强$t", phones = listOf("138%04d%04d".format(t, i))),
                        )
                        store.editContact(c.id, ContactPatch(title = "经理$i"))
                        store.search("华强$t", SearchOptions(limit = 5u))
                        store.listContacts(ListOptions(limit = 10u))
                        c.id
                    }
                }
            }
            val ids = futures.flatMap { it.get(120, TimeUnit.SECONDS) }
            assertEquals(threads * perThread, ids.toSet().size)
            assertEquals(threads * perThread, store.listContacts(ListOptions()).size)
            assertEquals(threads * perThread * 2, changes.get(), "one change per add and per edit")
            ids.forEach { assertTrue(store.getContact(it).title!!.startsWith("经理")) }
            val active = store.status().records.single { it.kind == "contact" && it.status == "active" }
            assertEquals((threads * perThread).toLong(), active.count)
        } finally {
            pool.shutdownNow()
        }
    }

    @Case
    fun checksInAndOutOfAVisit() {
        val store = open()
        val zhang = store.addContact(zhangWei())
        val visit = store.checkIn(
            CheckIn(contactId = zhang.id, lat = 22.5431, lon = 114.0579, accuracyM = 12.5, deviceTime = "2026-11-23T09:30:00+08:00"),
        )
        assertEquals("open", visit.status)
        assertEquals("2026-11-23", visit.day)
        val closed = store.checkOut(visit.id, CheckOut(notes = "谈了报价", nextFollowUp = "2026-12-01"))
        assertEquals("closed", closed.status)
        assertEquals("2026-12-01", closed.nextFollowUp)
        assertEquals(listOf(visit.id), store.listVisits(VisitFilter(contactId = zhang.id)).map { it.id })
        assertEquals(closed, store.getVisit(visit.id))
        val far = assertFailsWith<OutpostException.Validation> {
            store.checkIn(CheckIn(contactId = zhang.id, lat = 91.0, lon = 0.0))
        }
        assertEquals("lat", far.field)
        assertNotNull(store.visitHistory(visit.id).firstOrNull())
    }
}
