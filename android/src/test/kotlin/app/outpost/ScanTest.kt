package app.outpost

import app.outpost.core.ListOptions
import app.outpost.core.NewContact
import app.outpost.ffi.OutpostException
import app.outpost.ffi.OutpostScanner
import app.outpost.ffi.OutpostStore
import app.outpost.ffi.ScanKind
import app.outpost.ffi.ScanOptions
import app.outpost.ffi.StoreOptions
import app.outpost.testing.Case
import java.awt.Color
import java.awt.Font
import java.awt.RenderingHints
import java.awt.image.BufferedImage
import java.io.ByteArrayOutputStream
import java.io.File
import java.nio.file.Files
import javax.imageio.ImageIO
import kotlinx.coroutines.runBlocking
import kotlin.test.assertEquals
import kotlin.test.assertFailsWith
import kotlin.test.assertNotNull
import kotlin.test.assertTrue

/**
 * Scanning as the app does it: camera bytes in (here a card and a contract drawn with the Noto
 * CJK font and photographed on a dark desk), fields out, a contact created with its duplicate
 * candidates, a contract attached; bad bytes are a typed error. The PP-OCR models are given by
 * path, as an app passes the directory it copied its assets to (scripts/test-kotlin.sh passes
 * the cache scripts/fetch-models.sh fills, as -Doutpost.models).
 */
class ScanTest : AutoCloseable {
    private val dir: File = Files.createTempDirectory("outpost-kotlin-scan").toFile()
    private val store = OutpostStore.open(File(dir, "rep.db").path, StoreOptions(region = "CN", user = "rep1", key = null))
    private val modelsDir: String = System.getProperty("outpost.models")
        ?: error("run through scripts/test-kotlin.sh: -Doutpost.models names the model directory")
    private val scanner: OutpostScanner by lazy { OutpostScanner(modelsDir) }

    override fun close() {
        store.close()
        dir.deleteRecursively()
    }

    private val cjk: Font by lazy {
        val file = File("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc")
        Font.createFonts(file).first { it.family.contains("SC") }
    }

    /** A white document with [lines] (text, size) drawn on a dark desk, as PNG bytes. */
    private fun photo(docW: Int, docH: Int, lines: List<Pair<String, Float>>): ByteArray {
        val img = BufferedImage(docW + 400, docH + 400, BufferedImage.TYPE_INT_RGB)
        val g = img.createGraphics()
        g.setRenderingHint(RenderingHints.KEY_TEXT_ANTIALIASING, RenderingHints.VALUE_TEXT_ANTIALIAS_ON)
        g.color = Color(70, 60, 50)
        g.fillRect(0, 0, img.width, img.height)
        g.color = Color(250, 250, 246)
        g.fillRect(200, 200, docW, docH)
        g.color = Color(20, 20, 20)
        var y = 200 + docH / 10
        for ((text, size) in lines) {
            g.font = cjk.deriveFont(size)
            y += (size * 1.5f).toInt()
            g.drawString(text, 200 + docW / 12, y)
        }
        g.dispose()
        val out = ByteArrayOutputStream()
        ImageIO.write(img, "png", out)
        return out.toByteArray()
    }

    private fun card() = photo(
        1400, 840,
        listOf(
            "张伟" to 96f,
            "销售经理" to 44f,
            "深圳市华强科技有限公司" to 48f,
            "手机：138 0013 8000" to 42f,
            "邮箱：zhangwei@huaqiang.com" to 40f,
        ),
    )

    @Case
    fun aCardPhotoIsReadIntoFields() = runBlocking {
        val report = store.scan(scanner, card(), ScanOptions(kind = ScanKind.CARD, includeFlatPng = true))
        assertEquals("card", report.kind)
        assertEquals("张伟", report.fields["name"]?.value)
        assertEquals(0.toUShort(), report.rotation)
        assertTrue(report.documentFound, "the card's outline should be found")
        assertEquals(4, report.corners.size)
        assertTrue(report.width >= 1280u, "flattened long side ${report.width}")
        assertEquals(listOf("+8613800138000"), report.phones.map { it.value })
        assertEquals("深圳市华强科技有限公司", report.fields["company"]?.value)
        assertNotNull(report.flatPng)
        assertTrue(report.timingsMs.ocr > 0.0)
    }

    @Case
    fun aCardCreatesAContactWithItsDuplicates() = runBlocking {
        val existing = store.addContact(NewContact(name = "张伟", phones = listOf("+86 138-0013-8000")))
        val created = store.scanCardToContact(scanner, card(), ScanOptions(kind = ScanKind.CARD, includeFlatPng = false))
        assertEquals(listOf("+8613800138000"), created.contact.phones)
        assertEquals(existing.id, created.duplicates.first().contactId)
        assertTrue("phone" in created.duplicates.first().reasons)
        assertEquals(2, store.listContacts(ListOptions()).size)
    }

    @Case
    fun aContractScanIsAttachedWithItsAmount() = runBlocking {
        val buyer = store.addContact(NewContact(name = "李娜"))
        val contract = photo(
            1240, 1754,
            listOf(
                "购销合同" to 64f,
                "合同编号：HT-2026-0158" to 36f,
                "甲方：深圳市华强科技有限公司" to 36f,
                "乙方：广州恒通贸易有限公司" to 36f,
                "合同金额：¥305,000.00" to 36f,
                "大写：人民币叁拾万伍仟元整" to 36f,
                "签订日期：2026年11月23日" to 36f,
            ),
        )
        val attached = store.scanAndAttach(scanner, contract, buyer.id, ScanOptions(kind = ScanKind.CONTRACT, includeFlatPng = false))
        assertEquals("contract", attached.scan.kind)
        assertEquals("305000.00", attached.scan.fields["amount"]?.value)
        assertEquals("2026-11-23", attached.scan.fields["date"]?.value)
        assertEquals("contract", attached.attachment.category)
        assertEquals("305000.00", attached.attachment.fields["amount"])
        assertEquals(listOf(attached.attachment.id), store.listAttachments(buyer.id).map { it.id })
        val png = store.fetchBlob(attached.attachment.blobSha256)
        assertEquals(attached.attachment.size, png.size.toLong())
    }

    @Case
    fun badBytesAreAScanError() = runBlocking {
        val e = assertFailsWith<OutpostException.Scan> {
            store.scan(scanner, "not a photo".toByteArray(), ScanOptions(kind = ScanKind.AUTO, includeFlatPng = false))
        }
        assertTrue(e.reason.isNotBlank())
    }

    @Case
    fun aMissingModelFileIsAScanErrorNamingIt() {
        val empty = Files.createTempDirectory("outpost-no-models").toFile()
        try {
            val e = assertFailsWith<OutpostException.Scan> { OutpostScanner(empty.path) }
            assertTrue(e.reason.contains("ch_PP-OCRv4_det_infer.onnx"), e.reason)
            assertTrue(e.reason.contains("fetch-models.sh"), e.reason)
        } finally {
            empty.deleteRecursively()
        }
    }
}
