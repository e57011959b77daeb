// Lets android/ build on its own (`gradle :assembleRelease` from this folder). An app that
// includes the module instead adds to its own settings.gradle.kts:
//   include(":outpost")
//   project(":outpost").projectDir = file("path/to/outpost/android")
pluginManagement {
    repositories {
        google()
        mavenCentral()
        gradlePluginPortal()
    }
}
dependencyResolutionManagement {
    repositories {
        google()
        mavenCentral()
    }
}
rootProject.name = "outpost"
