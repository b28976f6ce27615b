import Foundation
@testable import HTTPChannel
import Testing

@Suite("http channel replay guard")
struct ReplayGuardTests {
    let now = Date(timeIntervalSince1970: 1_795_000_000)

    @Test func remembersUntilExpiry() {
        let guard_ = ReplayGuard()
        #expect(guard_.firstSight("a", expires: now.addingTimeInterval(600), now: now))
        #expect(!guard_.firstSight("a", expires: now.addingTimeInterval(600), now: now.addingTimeInterval(599)))
        #expect(guard_.firstSight("b", expires: now.addingTimeInterval(1200), now: now.addingTimeInterval(601)))
        #expect(guard_.count == 1, "a is forgotten once expired")
        #expect(guard_.firstSight("a", expires: now.addingTimeInterval(1300), now: now.addingTimeInterval(700)))
    }

    @Test func staysWithinItsCapacity() {
        let guard_ = ReplayGuard(capacity: 100)
        for index in 0..<5000 {
            #expect(guard_.firstSight("s\(index)", expires: now.addingTimeInterval(600), now: now))
        }
        #expect(guard_.count == 100)
        #expect(!guard_.firstSight("s4999", expires: now.addingTimeInterval(600), now: now), "the newest are kept")
    }
}
