package app.outpost

import app.outpost.testing.collectCases
import org.junit.Test
import org.junit.runner.RunWith
import org.junit.runners.Parameterized

/**
 * Hands every [app.outpost.testing.Case] to JUnit, for `gradle test` in an Android build.
 * (scripts/test-kotlin.sh leaves this file out: it runs the same cases without JUnit.)
 */
@RunWith(Parameterized::class)
class OutpostJUnitTest(private val name: String) {
    companion object {
        /** One JUnit test per case, named "Suite.method". */
        @JvmStatic
        @Parameterized.Parameters(name = "{0}")
        fun cases(): List<Array<Any>> = collectCases(*ALL_SUITES).map { arrayOf<Any>(it.name) }
    }

    /** Runs the case on a fresh suite instance. */
    @Test
    fun run() {
        collectCases(*ALL_SUITES).single { it.name == name }.run()
    }
}
