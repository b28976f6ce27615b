import Foundation
import Mustache

/// The console's Mustache templates, embedded in the binary (see Package.swift), parsed once.
///
/// Values go in escaped (`{{name}}`); the few triple-mustache places (`{{{…}}}`) take only HTML
/// the server built itself — icons and the usage chart's SVG — never a client's text.
struct ConsoleTemplates: Sendable {
    /// Template name → source. A file in `Templates/` missing here fails `ConsoleModelTests`.
    static let sources: [String: [UInt8]] = [
        "layout": PackageResources.layout_mustache,
        "inbox": PackageResources.inbox_mustache,
        "inbox_rows": PackageResources.inbox_rows_mustache,
        "usage": PackageResources.usage_mustache,
        "usage_chart": PackageResources.usage_chart_mustache,
        "chat_composer": PackageResources.chat_composer_mustache,
        "employees": PackageResources.employees_mustache,
        "employee": PackageResources.employee_mustache,
        "followups": PackageResources.followups_mustache,
        "followups_rows": PackageResources.followups_rows_mustache,
        "signin": PackageResources.signin_mustache,
        "message": PackageResources.message_mustache,
        "chat": PackageResources.chat_mustache,
    ]

    static let shared = ConsoleTemplates()

    let library: MustacheLibrary

    init() {
        var library = MustacheLibrary()
        for (name, source) in Self.sources {
            do {
                try library.register(String(decoding: source, as: UTF8.self), named: name)
            } catch {
                // The templates are compiled in and parsed by every test run: a syntax error
                // here is a build defect, not something a running gateway could recover from.
                preconditionFailure("template \(name).mustache does not parse: \(error)")
            }
        }
        self.library = library
    }

    /// Renders a view-model with the named template.
    func render(_ model: Any, _ template: String) -> HTML {
        guard let text = library.render(model, withTemplate: template) else {
            preconditionFailure("no template named \(template)")
        }
        return HTML(trusted: text)
    }
}
