#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// This thread's CPU time. What one fuzz input costs is measured by it, not by the wall clock:
/// on a shared machine a process descheduled for half a second would otherwise pass for an
/// input that hangs (100 M adversary sequences beside builds saw a 472 ms "slowest sequence").
enum ThreadCPUClock {
    static func now() -> Duration {
        var ts = timespec()
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts)
        return .seconds(Int64(ts.tv_sec)) + .nanoseconds(Int64(ts.tv_nsec))
    }
}
