import FlowForgeShared
import Foundation
import Testing

@Suite("JSON text")
struct JSONTextTests {
    @Test("reads every kind of value, with escapes and surrogate pairs")
    func reads() throws {
        let value = try JSONValue.parse(Array(#" {"a": [1, -2.5, 1e3, true, false, null], "s": "q\"\\\/\n\t\u00e9\ud83d\ude00", "o": {}} "#.utf8))
        #expect(value == ["a": [1, .double(-2.5), .double(1000), true, false, nil], "s": "q\"\\/\n\té😀", "o": [:]])
        #expect(try JSONValue.parse(Array("9223372036854775807".utf8)) == .int(Int64.max))
        #expect(try JSONValue.parse(Array("9223372036854775808".utf8)) == .double(9223372036854775808))
    }

    @Test("writes compact text with sorted keys, and reads back what it wrote")
    func roundTrip() throws {
        let value: JSONValue = ["b": "line\nbreak \"quoted\" \u{01} é", "a": [1, .double(0.5), nil, true], "c": [:]]
        let text = String(decoding: value.encoded(), as: UTF8.self)
        #expect(text == #"{"a":[1,0.5,null,true],"b":"line\nbreak \"quoted\" \u0001 é","c":{}}"#)
        #expect(try JSONValue.parse(value.encoded()) == value)
    }

    @Test(
        "refuses what is not JSON, saying where",
        arguments: [
            ("{", "expected a quoted key at byte 1"), ("[1,]", "unexpected character at byte 3"),
            ("{\"a\" 1}", "expected ':' at byte 5"), ("01", "unexpected text after the JSON value at byte 1"),
            ("\"\\x\"", "invalid escape at byte 3"), ("\"\\ud800\"", "unpaired surrogate in a \\u escape at byte 7"),
            ("tru", "unexpected end of text at byte 0"), ("1.", "invalid number at byte 2"), ("-", "unexpected end of text at byte 1"),
            ("\"a\u{01}\"", "unescaped control character in a string at byte 2"), ("{} {}", "unexpected text after the JSON value at byte 3"),
            ("1e999", "number out of range at byte 5"),
        ])
    func refuses(text: String, message: String) {
        #expect(throws: FlowForgeError.invalid("request body is not valid JSON: \(message)")) {
            try JSONValue.parse(Array(text.utf8))
        }
    }

    @Test("refuses invalid UTF-8 and nesting deeper than the limit, without exhausting the stack")
    func limits() {
        #expect(throws: FlowForgeError.self) { try JSONValue.parse([UInt8(ascii: "\""), 0xC3, 0x28, UInt8(ascii: "\"")]) }
        let deep = String(repeating: "[", count: 100_000) + String(repeating: "]", count: 100_000)
        #expect(throws: FlowForgeError.invalid("request body is not valid JSON: nested deeper than 128 levels at byte 128")) {
            try JSONValue.parse(Array(deep.utf8))
        }
        let allowed = String(repeating: "[", count: 128) + String(repeating: "]", count: 128)
        #expect((try? JSONValue.parse(Array(allowed.utf8))) != nil)
    }
}
