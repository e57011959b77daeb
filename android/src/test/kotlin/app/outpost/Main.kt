package app.outpost

import app.outpost.testing.collectCases
import app.outpost.testing.runAndExit

/** Every test suite, for the JVM runner and the JUnit bridge. */
val ALL_SUITES: Array<Class<*>> =
    arrayOf(
        OutpostStoreTest::class.java,
        SyncTest::class.java,
        SecurityTest::class.java,
        DedupImportTest::class.java,
        ScanTest::class.java,
        FlowTest::class.java,
        ScopeTest::class.java,
    )

/** Entry point of the plain-JVM test run (scripts/test-kotlin.sh). */
fun main() {
    runAndExit(collectCases(*ALL_SUITES))
}
