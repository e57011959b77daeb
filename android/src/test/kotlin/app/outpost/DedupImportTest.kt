package app.outpost

import app.outpost.ffi.ColumnMapping
import app.outpost.core.ContactStatus
import app.outpost.core.DupQuery
import app.outpost.core.DupReason
import app.outpost.ffi.ImportOptions
import app.outpost.ffi.ImportProgressListener
import app.outpost.core.ListOptions
import app.outpost.core.NewContact
import app.outpost.ffi.OutpostException
import app.outpost.ffi.OutpostStore
import app.outpost.ffi.StoreOptions
import app.outpost.testing.Case
import java.io.File
import java.nio.charset.Charset
import java.nio.file.Files
import java.util.zip.ZipEntry
import java.util.zip.ZipOutputStream
import kotlin.test.assertEquals
import kotlin.test.assertFailsWith
import kotlin.test.assertNull
import kotlin.test.assertTrue

/** Duplicates, merges and spreadsheet import through the bindings, as an app calls them. */
class DedupImportTest : AutoCloseable {
    private val dir: File = Files.createTempDirectory("outpost-kotlin-dedup").toFile()
    private val opened = mutableListOf<OutpostStore>()
    private val gbk = Charset.forName("GBK")

    private fun open(): OutpostStore =
        OutpostStore.open(File(dir, "rep.db").path, StoreOptions(region = "CN", user = "rep1")).also { opened += it }

    override fun close() {
        opened.forEach { it.close() }
        dir.deleteRecursively()
    }

    @Case
    fun phoneVariantsAreOneDuplicate() {
        val store = open()
        val zhang = store.addContact(NewContact(name = "张伟", phones = listOf("138 0013 8000")))
        for (variant in listOf("138 0013 8000", "+86 138-0013-8000", "8613800138000")) {
            val dups = store.findDuplicates(DupQuery(phones = listOf(variant)))
            assertEquals(listOf(zhang.id), dups.map { it.contactId }, variant)
            assertEquals(listOf(DupReason.PHONE), dups[0].reasons)
            assertTrue(dups[0].score > 0.9)
        }
        assertTrue(store.findDuplicates(DupQuery(phones = listOf("138 00"))).isEmpty(), "half-typed")
        // A finished entry with a bad number is an error naming it, not "no duplicate".
        val bad = assertFailsWith<OutpostException.Validation> { store.checkDuplicates(DupQuery(phones = listOf("138 00"))) }
        assertEquals("phones", bad.field)
        assertEquals(1, store.checkDuplicates(DupQuery(phones = listOf("１３８ ００１３ ８０００"))).size)
    }

    @Case
    fun titleVariantsAtCompanyVariantsAreCandidates() {
        val store = open()
        val manager = store.addContact(NewContact(name = "张经理", company = "深圳市华强科技有限公司"))
        val added = store.addContactChecked(NewContact(name = "张总监", company = "华强科技"))
        assertEquals("张总监", added.contact.name)
        assertEquals(listOf(manager.id), added.duplicates.map { it.contactId })
        assertEquals(listOf(DupReason.NAME_COMPANY), added.duplicates[0].reasons)
    }

    @Case
    fun mergeHidesTheLoserAndUnmergeRestoresIt() {
        val store = open()
        val winner = store.addContact(NewContact(name = "张伟", company = "华强科技", phones = listOf("13800138000")))
        val loser = store.addContact(NewContact(name = "张总", company = "华强科技", phones = listOf("13900139000"), title = "总监"))
        val merged = store.mergeContacts(winner.id, loser.id)
        assertEquals(listOf("+8613800138000", "+8613900139000"), merged.phones)
        assertEquals("总监", merged.title)
        val gone = store.getContact(loser.id)
        assertEquals(ContactStatus.MERGED, gone.status)
        assertEquals(winner.id, gone.mergedInto)
        assertEquals(listOf(winner.id), store.listContacts(ListOptions()).map { it.id })
        assertTrue(store.findDuplicates(DupQuery(phones = listOf("13900139000"))).all { it.contactId == winner.id })
        val e = assertFailsWith<OutpostException.Validation> { store.mergeContacts(winner.id, loser.id) }
        assertEquals("loser", e.field)
        val back = store.unmergeContact(loser.id)
        assertEquals(ContactStatus.ACTIVE, back.status)
        assertNull(back.mergedInto)
        assertEquals(2, store.listContacts(ListOptions()).size)
        // The winner gave back the phone and the title the merge had copied into it.
        val restored = store.getContact(winner.id)
        assertEquals(listOf("+8613800138000"), restored.phones)
        assertNull(restored.title)
    }

    @Case
    fun importsAGbkCsvAsExcelSavesIt() {
        val store = open()
        val csv = File(dir, "客户.csv")
        val rows = listOf(
            "姓名,公司,职位,手机,邮箱,微信号",
            "张伟,深圳市华强科技有限公司,采购经理,138 0013 8000,zw@hq.com,zw88",
            "李娜,\"华为技术, 深圳\",总监,13900139000,li@hw.com,",
            "王芳,腾讯,,12345,,",
            ",无名,,13700137000,,",
            "张伟,华强科技,采购总监,+86 138-0013-8000,,",
        )
        csv.writeBytes((rows.joinToString("\r\n") + "\r\n").toByteArray(gbk))
        val dry = store.importFile(csv.path, ImportOptions(dryRun = true))
        assertTrue(dry.dryRun)
        assertTrue(store.listContacts(ListOptions()).isEmpty(), "a dry run imports nothing")
        val progress = mutableListOf<Pair<Long, Long>>()
        val summary = store.importFileWithProgress(csv.path, ImportOptions(), object : ImportProgressListener {
            override fun onProgress(done: Long, total: Long) {
                progress.add(done to total)
            }
        })
        assertEquals(5L to 5L, progress.last(), progress.toString())
        assertTrue(progress.zipWithNext().all { (a, b) -> a.first <= b.first }, progress.toString())
        assertEquals(5L, summary.rows)
        assertEquals(3L, summary.imported)
        assertEquals(1L, summary.skipped)
        assertEquals(1L, summary.warnings, "王芳's bad phone is left out, not her row")
        assertEquals(1L, summary.duplicates)
        assertEquals("gbk", summary.encoding)
        val report = File(summary.report)
        assertEquals(File(dir, "客户.report.csv").path, report.path)
        val lines = String(report.readBytes(), gbk).split("\r\n").filter { it.isNotEmpty() }
        assertEquals("row,column,value,reason", lines[0])
        assertTrue(lines.any { it.startsWith("4,手机,12345,") }, lines.toString())
        assertTrue(lines.any { it.startsWith("5,姓名,") }, lines.toString())
        assertTrue(lines.any { it.startsWith("6,") && it.contains("row 2") }, lines.toString())
        val li = store.listContacts(ListOptions()).single { it.name == "李娜" }
        assertEquals("华为技术, 深圳", li.company)
        val zhang = store.listContacts(ListOptions()).single { it.name == "张伟" }
        assertEquals("zw88", zhang.extra["微信号"])
        val e = assertFailsWith<OutpostException.Validation> {
            store.importFile(csv.path, ImportOptions(map = listOf(ColumnMapping(column = "没有", field = "name"))))
        }
        assertEquals("map", e.field)
    }

    @Case
    fun importsAnXlsxWorkbook() {
        val store = open()
        val xlsx = File(dir, "leads.xlsx")
        writeXlsx(
            xlsx,
            listOf(
                listOf("Name", "Company", "Mobile", "Level"),
                listOf("Zhang Wei", "Huaqiang Co., Ltd.", "13800138000", "A"),
                listOf("Li Na", "Huawei", "123", "B"),
            ),
        )
        val summary = store.importFile(xlsx.path, ImportOptions(map = listOf(ColumnMapping(column = "Level", field = "grade"))))
        assertEquals(2L, summary.imported)
        assertEquals(0L, summary.skipped)
        assertEquals(1L, summary.warnings)
        assertEquals("xlsx", summary.encoding)
        val zhang = store.listContacts(ListOptions()).single { it.name == "Zhang Wei" }
        assertEquals(listOf("+8613800138000"), zhang.phones)
        assertEquals("A", zhang.extra["grade"])
    }

    /** A minimal .xlsx (inline strings, one sheet), zipped by hand: no spreadsheet library needed. */
    private fun writeXlsx(file: File, rows: List<List<String>>) {
        fun esc(s: String) = s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
        val sheetRows = rows.mapIndexed { r, cells ->
            val cs = cells.mapIndexed { c, v ->
                "<c r=\"${'A' + c}${r + 1}\" t=\"inlineStr\"><is><t>${esc(v)}</t></is></c>"
            }.joinToString("")
            "<row r=\"${r + 1}\">$cs</row>"
        }.joinToString("")
        val parts = linkedMapOf(
            "[Content_Types].xml" to """<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/><Default Extension="xml" ContentType="application/xml"/><Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/><Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/></Types>""",
            "_rels/.rels" to """<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="xl/workbook.xml"/></Relationships>""",
            "xl/workbook.xml" to """<?xml version="1.0" encoding="UTF-8"?><workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"><sheets><sheet name="Sheet1" sheetId="1" r:id="rId1"/></sheets></workbook>""",
            "xl/_rels/workbook.xml.rels" to """<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" Target="worksheets/sheet1.xml"/></Relationships>""",
            "xl/worksheets/sheet1.xml" to """<?xml version="1.0" encoding="UTF-8"?><worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>$sheetRows</sheetData></worksheet>""",
        )
        ZipOutputStream(file.outputStream()).use { zip ->
            for ((name, text) in parts) {
                zip.putNextEntry(ZipEntry(name))
                zip.write(text.toByteArray(Charsets.UTF_8))
                zip.closeEntry()
            }
        }
    }
}
