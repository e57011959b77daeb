package app.outpost

import app.outpost.core.CheckIn
import app.outpost.core.CheckOut
import app.outpost.core.CoordSystem
import app.outpost.core.DealFilter
import app.outpost.core.NewAttachment
import app.outpost.core.NewContact
import app.outpost.core.NewDeal
import app.outpost.core.NewTask
import app.outpost.ffi.OutpostException
import app.outpost.ffi.OutpostStore
import app.outpost.ffi.StoreOptions
import app.outpost.ffi.parseAddress
import app.outpost.testing.Case
import java.io.File
import java.nio.file.Files
import java.time.LocalDate
import kotlin.test.assertEquals
import kotlin.test.assertFailsWith
import kotlin.test.assertFalse
import kotlin.test.assertNotNull
import kotlin.test.assertNull
import kotlin.test.assertTrue

/** Field workflows through the bindings: verdicts, deals and their gates, follow-ups, today, address fill. */
class FlowTest : AutoCloseable {
    private val dir: File = Files.createTempDirectory("outpost-flow-test").toFile()
    private val opened = mutableListOf<OutpostStore>()

    private fun open(): OutpostStore =
        OutpostStore.open(File(dir, "rep.db").path, StoreOptions(region = "CN", user = "rep1")).also { opened += it }

    override fun close() {
        opened.forEach { it.close() }
        dir.deleteRecursively()
    }

    @Case
    fun checkInVerdictsAndFirstCheckInLocatesTheCustomer() {
        val store = open()
        val c = store.addContact(NewContact(name = "张伟", company = "深圳市华强科技有限公司"))
        val first = store.checkInVerified(CheckIn(contactId = c.id, lat = 22.5431, lon = 113.9480, accuracyM = 12.0), false)
        assertEquals("verified", first.check.verdict)
        assertTrue(first.contactLocated)
        assertEquals("22.5431", store.getContact(c.id).extra["lat"])
        val far = store.checkInVerified(CheckIn(contactId = c.id, lat = 22.5600, lon = 113.9480, accuracyM = 12.0), false)
        assertEquals("far_from_customer", far.check.verdict)
        assertTrue((far.check.distanceM ?: 0.0) > 1800.0)
        val mock = store.checkInVerified(CheckIn(contactId = c.id, lat = 22.5431, lon = 113.9480, accuracyM = 5.0), true)
        assertEquals("mock_location", mock.check.verdict)
        assertEquals("device", mock.check.decidedBy)
        val low = store.checkInVerified(CheckIn(contactId = c.id, lat = 22.5431, lon = 113.9480, accuracyM = 400.0), false)
        assertEquals("low_accuracy", low.check.verdict)
        assertEquals("mock_location", store.visitCheck(mock.visit.id)?.verdict)
        val verdicts = store.alerts(null).filter { it.kind == "visit_unverified" }.map { it.detail.substringBefore(" ") }
        assertEquals(listOf("low_accuracy", "mock_location", "far_from_customer"), verdicts)
    }

    /** AMap (GCJ-02) and Baidu (BD-09) positions of a Shenzhen customer at WGS-84 22.5431, 113.9480. */
    @Case
    fun positionsFromChineseMapsAreStoredInWgs84() {
        val store = open()
        val c = store.addContact(NewContact(name = "王芳"))
        val located = store.locateContact(c.id, 22.540094, 113.952883, CoordSystem.GCJ02)
        assertEquals("manual:gcj02", located.extra["location_source"])
        assertTrue(Math.abs(located.extra.getValue("lat").toDouble() - 22.5431) < 2e-5, located.extra.toString())
        val amap = store.checkInVerified(
            CheckIn(contactId = c.id, lat = 22.540094, lon = 113.952883, accuracyM = 10.0, coords = CoordSystem.GCJ02), false)
        assertEquals("verified", amap.check.verdict)
        assertTrue(Math.abs(amap.visit.lon - 113.9480) < 2e-5, amap.visit.toString())
        val baidu = store.checkInVerified(
            CheckIn(contactId = c.id, lat = 22.545823, lon = 113.959419, accuracyM = 10.0, coords = CoordSystem.BD09), false)
        assertEquals("verified", baidu.check.verdict)
        val taken = store.checkInVerified(CheckIn(contactId = c.id, lat = 22.540094, lon = 113.952883, accuracyM = 10.0), false)
        assertEquals("far_from_customer", taken.check.verdict)
    }

    @Case
    fun clockSuspectAgainstTheMonotonicClock() {
        val store = open()
        val c = store.addContact(NewContact(name = "李娜"))
        val synced = java.time.OffsetDateTime.parse("2026-11-23T08:00:00+08:00").toInstant().toEpochMilli()
        store.setClockReference(synced, 1_000_000)
        val v = store.checkInVerified(
            CheckIn(contactId = c.id, lat = 23.13, lon = 113.26, accuracyM = 10.0,
                deviceTime = "2026-11-23T08:30:00+08:00", elapsedMs = 1_000_000L + 5_400_000L),
            false,
        )
        assertEquals("clock_suspect", v.check.verdict)
        assertFalse(v.contactLocated, "a suspect check-in does not locate the customer")
    }

    @Case
    fun restrictedDealFieldsBeforeTheRoleIsKnown() {
        val store = open()
        assertNull(store.access(), "never synced: the server decides")
        val c = store.addContact(NewContact(name = "王芳"))
        val deal = store.addDeal(
            NewDeal(title = "框架协议", contactId = c.id, amount = 800_000.0, discount = 5.0, contractAmount = 760_000.0),
        )
        assertEquals(800_000.0, deal.amount)
        assertEquals(5.0, deal.discount)
        assertEquals(760_000.0, deal.contractAmount)
        assertEquals(7.5, store.setDealField(deal.id, "discount", 7.5).discount)
        assertNull(store.setDealField(deal.id, "discount", null).discount)
        val e = assertFailsWith<OutpostException.Validation> { store.setDealField(deal.id, "title", 1.0) }
        assertEquals("field", e.field)
    }

    @Case
    fun dealBlockedByAGateNamesTheMissingEvidence() {
        val store = open()
        val c = store.addContact(NewContact(name = "张伟"))
        val deal = store.addDeal(NewDeal(title = "ERP 项目", contactId = c.id, amount = 300_000.0))
        assertEquals("lead", deal.stage)
        val e = assertFailsWith<OutpostException.Validation> { store.moveDeal(deal.id, "proposal") }
        assertEquals("stage", e.field)
        assertTrue(e.reason.contains("quotation"), e.reason)
        assertEquals("lead", store.getDeal(deal.id).stage)
        val check = store.checkDealStage(deal.id, "negotiation")
        assertFalse(check.allowed)
        assertEquals("recent_visit", check.missing.single().requirement)
        store.checkIn(CheckIn(contactId = c.id, lat = 22.54, lon = 113.95))
        assertTrue(store.checkDealStage(deal.id, "negotiation").allowed)
        assertEquals("negotiation", store.moveDeal(deal.id, "negotiation").stage)
        assertEquals(1, store.listDeals(DealFilter(stage = "negotiation")).size)
        assertTrue(store.dealHistory(deal.id).any { h -> h.action == "move" && h.changes.any { it.field == "stage" && it.new == "negotiation" } })
        val closed = store.checkDealStage(deal.id, "signed")
        assertNotNull(closed.blockedReason)
    }

    @Case
    fun anAttachmentOfTheSurvivorOpensTheGateOfAMergedContactsDeal() {
        val store = open()
        val survivor = store.addContact(NewContact(name = "张伟", company = "深圳市华强科技有限公司"))
        val merged = store.addContact(NewContact(name = "张伟", company = "华强科技"))
        val deal = store.addDeal(NewDeal(title = "ERP 项目", contactId = merged.id))
        store.mergeContacts(survivor.id, merged.id)
        assertEquals(listOf(deal.id), store.listDeals(DealFilter(contactId = survivor.id)).map { it.id })
        assertFalse(store.checkDealStage(deal.id, "proposal").allowed)
        store.attach(
            NewAttachment(
                contactId = survivor.id,
                category = "quotation",
                mime = "application/pdf",
                bytes = "报价单".toByteArray(),
                fields = emptyMap(),
            ),
        )
        assertEquals("proposal", store.moveDeal(deal.id, "proposal").stage)
    }

    @Case
    fun checkOutCreatesAFollowUpOnTodaysList() {
        val store = open()
        val c = store.addContact(NewContact(name = "王芳"))
        val v = store.checkIn(CheckIn(contactId = c.id, lat = 31.23, lon = 121.47))
        val due = LocalDate.now().plusDays(2).toString()
        store.checkOut(v.id, CheckOut(notes = "要报价", nextFollowUp = due))
        val task = store.listTasks(null, false).single()
        assertEquals(due, task.due)
        assertEquals(v.id, task.visitId)
        assertTrue(store.today(LocalDate.now().toString()).none { it.contactId == c.id })
        val later = store.today(LocalDate.now().plusDays(5).toString())
        assertEquals(c.id, later.first().contactId)
        assertEquals("follow_up_overdue", later.first().reasons.first().kind)
        store.completeTask(task.id)
        assertTrue(store.today(LocalDate.now().plusDays(5).toString()).none { it.contactId == c.id })
        val planned = store.addTask(NewTask(contactId = c.id, due = LocalDate.now().toString(), taskType = "visit"))
        assertEquals("planned_visit", store.today(null).first { it.contactId == c.id }.reasons.first().kind)
        assertEquals("visit", planned.taskType)
        assertFailsWith<OutpostException.Validation> { store.today("tomorrow") }
    }

    @Case
    fun flowSettingsAsJson() {
        val store = open()
        assertTrue(store.flowConfigJson().contains("\"visit_radius_m\":500"))
        store.setFlowConfigJson("""{"visit_radius_m": 120}""")
        assertTrue(store.flowConfigJson().contains("\"visit_radius_m\":120"))
        val e = assertFailsWith<OutpostException.Validation> { store.setFlowConfigJson("""{"visit_radius_m": -1}""") }
        assertEquals("visit_radius_m", e.field)
    }

    @Case
    fun addressesParseAndComplete() {
        val p = parseAddress("南山区科技园")
        assertEquals("广东省", p.province)
        assertEquals("深圳市", p.city)
        assertEquals("南山区", p.district)
        assertEquals("科技园", p.rest)
        assertEquals("广东省深圳市南山区科技园", p.full)
        assertTrue(p.completed)
        val none = parseAddress("科技园")
        assertNull(none.district)
    }
}
