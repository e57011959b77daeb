package app.outpost.testing

import java.io.File
import java.io.IOException
import java.util.Collections
import java.util.concurrent.CompletableFuture
import java.util.concurrent.TimeUnit
import java.util.concurrent.TimeoutException

/**
 * The real `outpost-server` binary, serving on embedded SQLite in [dataDir] on a free port of
 * 127.0.0.1, for tests that sync devices through it. [close] stops it (SIGTERM, then SIGKILL).
 *
 * The binary comes from the `outpost.server.bin` system property or the `OUTPOST_SERVER_BIN`
 * environment variable (scripts/test-kotlin.sh builds it and sets the property). Operator
 * commands ([createTenant], [enrollDevice], [revokeDevice]) run the same binary on the same data.
 * With [tls] (a certificate chain and its key, PEM files made out to `localhost`) it serves
 * HTTPS, and [url] is `https://localhost:PORT`.
 */
class SyncServer(val dataDir: File, private val tls: Pair<File, File>? = null) : AutoCloseable {
    private val log: MutableList<String> = Collections.synchronizedList(mutableListOf())
    private val process: Process
    private val listening = CompletableFuture<String>()

    /** `http://127.0.0.1:PORT` (or `https://localhost:PORT`), the base URL devices sync with. */
    val url: String

    init {
        dataDir.mkdirs()
        val serve = listOf("serve", "--listen", "127.0.0.1:0") +
            (tls?.let { (cert, key) -> listOf("--tls-cert", cert.path, "--tls-key", key.path) } ?: emptyList())
        process = command(*serve.toTypedArray()).redirectErrorStream(true).start()
        // Read the output to the end, or the server blocks once the pipe is full.
        Thread({
            try {
                process.inputStream.bufferedReader().forEachLine { line ->
                    log += line
                    LISTENING.find(line)?.let { listening.complete(it.groupValues[1]) }
                }
            } catch (_: IOException) {
                // close() stopped the server and its output with it.
            }
            listening.completeExceptionally(IllegalStateException("outpost-server exited before listening"))
        }, "outpost-server-output").apply { isDaemon = true }.start()
        url = try {
            val address = listening.get(60, TimeUnit.SECONDS)
            if (tls == null) "http://$address" else "https://localhost:" + address.substringAfterLast(':')
        } catch (e: Exception) {
            close()
            val why = if (e is TimeoutException) "did not say it was listening within 60 s" else "failed to start"
            throw AssertionError("outpost-server $why; its output:\n${log.joinToString("\n")}", e)
        }
    }

    /**
     * `outpost-server tenant create NAME --sharing SHARING`; returns the tenant id. Tests that are
     * not about scoped sync use `open` (every user reads every record); new tenants are otherwise
     * `private`.
     */
    fun createTenant(name: String, sharing: String = "open"): String =
        jsonField(operator("tenant", "create", name, "--sharing", sharing), "id")

    /** `outpost-server device enroll`; returns the device id and its token. */
    fun enrollDevice(tenant: String, user: String, role: String = "rep"): Pair<String, String> {
        val out = operator("device", "enroll", "--tenant", tenant, "--user", user, "--role", role)
        return jsonField(out, "device_id") to jsonField(out, "token")
    }

    /** `outpost-server device invite`; returns the one-time code. */
    fun invite(tenant: String, user: String, expires: String = "24h"): String =
        jsonField(operator("device", "invite", "--tenant", tenant, "--user", user, "--expires", expires), "code")

    /** `outpost-server device rotate DEVICE_ID`; returns the new token. */
    fun rotateToken(deviceId: String): String = jsonField(operator("device", "rotate", deviceId), "token")

    /** `outpost-server team create NAME --manager MANAGER` then `team add NAME USER` for each member. */
    fun createTeam(tenant: String, name: String, manager: String, members: List<String>) {
        operator("team", "create", name, "--manager", manager, "--tenant", tenant)
        for (m in members) operator("team", "add", name, m, "--tenant", tenant)
    }

    /** `outpost-server tenant lease --days N --grace-days M`: the lease every device receives. */
    fun setLease(tenant: String, days: Int, graceDays: Int) {
        operator("tenant", "lease", "--tenant", tenant, "--days", "$days", "--grace-days", "$graceDays")
    }

    /** `outpost-server role set ROLE --permissions P1,P2,...`: a role's permissions in a tenant. */
    fun setRole(tenant: String, role: String, permissions: List<String>) {
        operator("role", "set", role, "--permissions", permissions.joinToString(","), "--tenant", tenant)
    }

    /** `outpost-server role reset ROLE`: a default role back to its defaults. */
    fun resetRole(tenant: String, role: String) {
        operator("role", "reset", role, "--tenant", tenant)
    }

    /** `outpost-server record assign RECORD --to USER`: gives a contact to another owner. */
    fun assign(tenant: String, record: String, to: String) {
        operator("record", "assign", record, "--to", to, "--tenant", tenant)
    }

    /** `outpost-server device revoke DEVICE_ID`. */
    fun revokeDevice(deviceId: String) {
        operator("device", "revoke", deviceId)
    }

    /** `outpost-server user disable USER --tenant TENANT`: revokes every device of the user. */
    fun disableUser(tenant: String, user: String) {
        operator("user", "disable", user, "--tenant", tenant)
    }

    /** `outpost-server routing set --tenant TENANT FILE` with [rulesJson] as the file. */
    fun setRouting(tenant: String, rulesJson: String) {
        val file = File(dataDir, "routing-${System.nanoTime()}.json").apply { writeText(rulesJson) }
        operator("routing", "set", "--tenant", tenant, file.path)
    }

    /** Whether the server process is still running. */
    val isAlive: Boolean get() = process.isAlive

    /** Stops the server and waits for it to exit. */
    override fun close() {
        if (!process.isAlive) return
        process.destroy()
        if (!process.waitFor(10, TimeUnit.SECONDS)) {
            process.destroyForcibly().waitFor(10, TimeUnit.SECONDS)
        }
    }

    private fun command(vararg args: String): ProcessBuilder {
        val pb = ProcessBuilder(listOf(binary().path) + args)
        val env = pb.environment()
        // Only this server's own data directory: never a database named by the caller's env.
        env.keys.removeAll { it.startsWith("OUTPOST_") }
        env["OUTPOST_DATA"] = dataDir.path
        env["RUST_LOG"] = "warn,outpost_server=info"
        return pb
    }

    private fun operator(vararg args: String): String {
        val p = command(*args).redirectErrorStream(false).start()
        val stderr = CompletableFuture.supplyAsync { p.errorStream.bufferedReader().readText() }
        val stdout = p.inputStream.bufferedReader().readText()
        check(p.waitFor(60, TimeUnit.SECONDS)) { "outpost-server ${args.joinToString(" ")} timed out" }
        check(p.exitValue() == 0) {
            "outpost-server ${args.joinToString(" ")} exited ${p.exitValue()}: ${stderr.get()}"
        }
        return stdout
    }

    companion object {
        private val LISTENING = Regex("""listening on (127\.0\.0\.1:\d+)""")

        /** The `outpost-server` binary to run. */
        fun binary(): File {
            val path = System.getProperty("outpost.server.bin") ?: System.getenv("OUTPOST_SERVER_BIN")
                ?: throw AssertionError("set -Doutpost.server.bin or OUTPOST_SERVER_BIN to the outpost-server binary")
            return File(path).also { check(it.canExecute()) { "outpost-server binary not found at $path" } }
        }

        /** The string value of [field] in a flat JSON object (all the operator commands print). */
        fun jsonField(json: String, field: String): String =
            Regex(""""${Regex.escape(field)}"\s*:\s*"([^"]*)"""").find(json)?.groupValues?.get(1)
                ?: throw AssertionError("no \"$field\" in: $json")
    }
}
