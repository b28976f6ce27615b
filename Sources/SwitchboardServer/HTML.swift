import Foundation
import HTTPTypes
import Hummingbird
import NIOCore

/// A fragment of HTML the server made itself: a rendered template (whose values the template
/// escaped), or markup written in the code (icons). Text from anyone else goes through a
/// template or `escape`, never straight into an `HTML`.
struct HTML: ExpressibleByStringLiteral, Sendable {
    let text: String

    init(stringLiteral value: String) { text = value }
    /// Markup the server produced itself (a rendered template): taken as it is.
    init(trusted text: String) { self.text = text }

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
