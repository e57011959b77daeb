package app.outpost.testing

import java.lang.reflect.InvocationTargetException
import java.util.concurrent.ExecutionException
import java.util.concurrent.Executors
import java.util.concurrent.TimeUnit
import java.util.concurrent.TimeoutException
import kotlin.system.exitProcess

/**
 * Marks a test method. On a plain JVM (scripts/test-kotlin.sh) [runSuites] runs it; under
 * Gradle, `OutpostJUnitBridge` hands the same methods to JUnit.
 */
@Target(AnnotationTarget.FUNCTION)
@Retention(AnnotationRetention.RUNTIME)
annotation class Case

/** A test method found on a suite class. */
class TestCase(val suite: Class<*>, val method: java.lang.reflect.Method) {
    /** "Suite.method", as printed and as matched by a filter. */
    val name: String get() = "${suite.simpleName}.${method.name}"

    /** Runs the test on a fresh instance of its suite; throws what the test threw. */
    fun run() {
        val instance = suite.getDeclaredConstructor().newInstance()
        try {
            method.invoke(instance)
        } catch (e: InvocationTargetException) {
            throw e.targetException
        } finally {
            (instance as? AutoCloseable)?.close()
        }
    }
}

/** Every [Case] method of [suites], in source-name order within each suite. */
fun collectCases(vararg suites: Class<*>): List<TestCase> =
    suites.flatMap { suite ->
        suite.declaredMethods
            .filter { it.isAnnotationPresent(Case::class.java) && it.parameterCount == 0 }
            .sortedBy { it.name }
            .map { TestCase(suite, it) }
    }

/**
 * Runs [cases] one after another, each with a time limit, prints one line per test and a
 * closing `N passed, N failed` line, and exits the JVM with status 1 when any test failed or
 * none ran. `OUTPOST_TEST_FILTER` (a substring of "Suite.method") selects tests.
 */
fun runAndExit(cases: List<TestCase>, timeoutSeconds: Long = 120) {
    val filter = System.getenv("OUTPOST_TEST_FILTER").orEmpty()
    val selected = cases.filter { filter.isEmpty() || it.name.contains(filter) }
    // Daemon threads, so that a test stuck in native code cannot keep the JVM alive.
    val pool = Executors.newCachedThreadPool { r -> Thread(r, "test").apply { isDaemon = true } }
    var passed = 0
    var failed = 0
    for (case in selected) {
        val started = System.nanoTime()
        val error: Throwable? =
            try {
                pool.submit { case.run() }.get(timeoutSeconds, TimeUnit.SECONDS)
                null
            } catch (e: ExecutionException) {
                e.cause ?: e
            } catch (e: TimeoutException) {
                AssertionError("timed out after $timeoutSeconds s")
            }
        val ms = (System.nanoTime() - started) / 1_000_000
        if (error == null) {
            passed++
            println("ok   ${case.name} ($ms ms)")
        } else {
            failed++
            println("FAIL ${case.name} ($ms ms): $error")
            error.stackTrace.take(12).forEach { println("       at $it") }
        }
    }
    if (selected.isEmpty()) println("no test matched filter '$filter'")
    println("$passed passed, $failed failed")
    System.out.flush()
    exitProcess(if (failed == 0 && passed > 0) 0 else 1)
}
