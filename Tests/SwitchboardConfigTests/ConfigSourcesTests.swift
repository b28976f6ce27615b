import Foundation
import SwitchboardCore
import Testing

@testable import SwitchboardConfig

/// The file and line of every value, which the admin console shows next to it.
@Suite struct ConfigSourcesTests {
    @Test func everyValueKeepsItsFileAndLine() throws {
        let yaml = """
            composer:
              model: gpt-4o-mini
            employees:
              - id: alexey
                name: Alexey
                persona: Friendly concierge.
                working_hours:
                  timezone: Europe/Moscow
                  week:
                    mon: ["09:00-13:00", "14:00-18:00"]
                  special_days:
                    - { date: 2026-12-31, hours: ["10:00-14:00"] }
                auto_followup:
                  steps:
                    - { delay: 4h, instruction: "Check in" }
                    - delay: 24h
                      instruction: "Ask again"
              - id: maria
                name: Мария
            """
        let channel = """
            type: pigeon
            id: coop
            employee: maria
            """
        let config = try ConfigLoader(channelValidators: ["pigeon": { _ in }], environment: [:]).parse(
            config: yaml, file: "/srv/sb/config.yaml", channels: [("channels/coop.yaml", channel)], baseDirectory: "/srv/sb")
        let sources = config.sources
        #expect(sources["composer.model"]?.description == "config.yaml:2")
        #expect(sources["employees.alexey"]?.description == "config.yaml:4", "a list item by its id")
        #expect(sources["employees.alexey.persona"]?.description == "config.yaml:6")
        #expect(sources["employees.alexey.working_hours.timezone"]?.description == "config.yaml:8")
        #expect(sources["employees.alexey.working_hours.week.mon"]?.description == "config.yaml:10")
        #expect(sources["employees.alexey.working_hours.special_days.2026-12-31"]?.description == "config.yaml:12", "a special day by its date")
        #expect(sources["employees.alexey.auto_followup.steps.0"]?.description == "config.yaml:15", "steps by position")
        #expect(sources["employees.alexey.auto_followup.steps.1.instruction"]?.description == "config.yaml:17")
        #expect(sources["employees.maria.name"]?.description == "config.yaml:19")
        #expect(sources["channels.coop.type"]?.description == "channels/coop.yaml:1")
        #expect(sources["employees.alexey.working_hours.week.tue"] == nil, "not written")
        #expect(sources.nearest("employees.alexey.working_hours.week.tue")?.description == "config.yaml:9", "its mapping")
        #expect(sources.nearest("employees.maria.auto_followup.enabled")?.description == "config.yaml:18")
    }
}
