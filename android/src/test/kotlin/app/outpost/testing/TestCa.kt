package app.outpost.testing

import java.io.File
import java.util.concurrent.TimeUnit

/**
 * A company CA made for one test with the `openssl` command, a server certificate for
 * `localhost` it signed ([serverCert], [serverKey]), and another CA that signed nothing
 * ([otherCaPem]).
 */
class TestCa(private val dir: File) {
    val serverCert = File(dir, "server.pem")
    val serverKey = File(dir, "server.key")
    private val ca = File(dir, "ca.pem")
    private val other = File(dir, "other-ca.pem")

    init {
        dir.mkdirs()
        val caKey = File(dir, "ca.key").path
        openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
            "-keyout", caKey, "-out", ca.path, "-days", "2", "-subj", "/CN=Outpost Kotlin test CA",
            "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign")
        openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
            "-keyout", File(dir, "other-ca.key").path, "-out", other.path, "-days", "2",
            "-subj", "/CN=Outpost other CA", "-addext", "basicConstraints=critical,CA:TRUE")
        val csr = File(dir, "server.csr").path
        openssl("req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
            "-keyout", serverKey.path, "-out", csr, "-subj", "/CN=localhost")
        val ext = File(dir, "server.ext").apply {
            writeText("subjectAltName=DNS:localhost\nextendedKeyUsage=serverAuth\nbasicConstraints=CA:FALSE\n")
        }
        openssl("x509", "-req", "-in", csr, "-CA", ca.path, "-CAkey", caKey, "-CAcreateserial",
            "-out", serverCert.path, "-days", "2", "-extfile", ext.path)
    }

    /** The CA's certificate (PEM text), as an app would ship its company CA. */
    val caPem: String get() = ca.readText()

    /** A CA certificate that signed nothing of the server's (PEM text). */
    val otherCaPem: String get() = other.readText()

    private fun openssl(vararg args: String) {
        val p = ProcessBuilder(listOf("openssl") + args).redirectErrorStream(true).start()
        val output = p.inputStream.bufferedReader().readText()
        check(p.waitFor(60, TimeUnit.SECONDS) && p.exitValue() == 0) {
            "openssl ${args.joinToString(" ")} failed: $output"
        }
    }
}
