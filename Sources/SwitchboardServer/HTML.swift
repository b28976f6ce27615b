import Foundation
import HTTPTypes
import Hummingbird
import NIOCore

/// A fragment of HTML. Interpolated `String`s are escaped; only other `HTML` values (and
/// numbers) go in as they are — so a page cannot show a client's text as markup by mistake.
struct HTML: ExpressibleByStringInterpolation, Sendable {
    private(set) var text: String

    init(stringLiteral value: String) { text = value }
    init(stringInterpolation: Interpolation) { text = stringInterpolation.text }
    private init(raw: String) { text = raw }
    /// Markup the server produced itself (a rendered template): taken as it is.
    init(trusted text: String) { self.text = text }

    static let empty = HTML(raw: "")

    struct Interpolation: StringInterpolationProtocol {
        var text = ""

        init(literalCapacity: Int, interpolationCount: Int) { text.reserveCapacity(literalCapacity + 16 * interpolationCount) }
        mutating func appendLiteral(_ literal: String) { text += literal }
        mutating func appendInterpolation(_ value: String) { text += HTML.escape(value) }
        mutating func appendInterpolation(_ value: HTML) { text += value.text }
        mutating func appendInterpolation(_ values: [HTML]) { for value in values { text += value.text } }
        mutating func appendInterpolation(_ value: Int) { text += String(value) }
    }

    /// Escapes text for element content and quoted attribute values.
    static func escape(_ value: String) -> String {
        var result = ""
        result.reserveCapacity(value.utf8.count)
        for character in value.unicodeScalars {
            switch character {
            case "&": result += "&amp;"
            case "<": result += "&lt;"
            case ">": result += "&gt;"
            case "\"": result += "&quot;"
            case "'": result += "&#39;"
            default: result.unicodeScalars.append(character)
            }
        }
        return result
    }

    /// `value` when `condition` holds, nothing otherwise.
    static func when(_ condition: Bool, _ value: @autoclosure () -> HTML) -> HTML { condition ? value() : .empty }
}

extension HTTPField.Name {
    // Literal, valid field names: these initializers cannot fail.
    static let referrerPolicyHeader = HTTPField.Name("Referrer-Policy")!
    static let xFrameOptionsHeader = HTTPField.Name("X-Frame-Options")!
    static let secFetchSiteHeader = HTTPField.Name("Sec-Fetch-Site")!
    static let xForwardedForHeader = HTTPField.Name("X-Forwarded-For")!
    static let xForwardedProtoHeader = HTTPField.Name("X-Forwarded-Proto")!
}

/// Security headers every admin page carries: no framing, no inline script, no caching of
/// personal data.
let pageSecurityHeaders: HTTPFields = [
    .contentSecurityPolicy:
        "default-src 'none'; style-src 'self'; script-src 'self'; connect-src 'self'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
    .xContentTypeOptions: "nosniff",
    .referrerPolicyHeader: "same-origin",
    .xFrameOptionsHeader: "DENY",
    .cacheControl: "no-store",
]

func htmlResponse(_ html: HTML, status: HTTPResponse.Status = .ok, headers extra: HTTPFields = [:]) -> Response {
    var headers = pageSecurityHeaders
    headers[.contentType] = "text/html; charset=utf-8"
    headers.append(contentsOf: extra)
    return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(string: html.text)))
}

func redirect(to location: String, headers extra: HTTPFields = [:]) -> Response {
    var headers = pageSecurityHeaders
    headers[.location] = location
    headers.append(contentsOf: extra)
    return Response(status: .seeOther, headers: headers)
}
