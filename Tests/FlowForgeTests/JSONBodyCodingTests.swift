import FlowForgeShared
import Foundation
import Testing

@Suite("JSON body coding")
struct JSONBodyCodingTests {
    /// A body with a nested object and an array of them, decoded the plain Codable way.
    struct Order: Decodable, Equatable {
        struct Line: Decodable, Equatable {
            var sku: String
            var quantity: Int
        }
        var customer: String
        var lines: [Line]
        var note: String?
    }

    @Test("decoding names the field at fault by its path, in the API's words")
    func decodingErrors() throws {
        let decoder = JSONBodyDecoder()
        let good: JSONValue = ["customer": "a", "lines": [["sku": "x", "quantity": 2]], "note": nil]
        #expect(try decoder.decode(Order.self, from: good) == Order(customer: "a", lines: [.init(sku: "x", quantity: 2)], note: nil))
        #expect(throws: FlowForgeError.invalid("lines[0].quantity must be a number, not a string")) {
            try decoder.decode(Order.self, from: ["customer": "a", "lines": [["sku": "x", "quantity": "2"]]])
        }
        #expect(throws: FlowForgeError.invalid("lines[1].sku is required")) {
            try decoder.decode(Order.self, from: ["customer": "a", "lines": [["sku": "x", "quantity": 1], ["quantity": 1]]])
        }
        #expect(throws: FlowForgeError.invalid("lines must be an array, not an object")) {
            try decoder.decode(Order.self, from: ["customer": "a", "lines": [:]])
        }
        #expect(throws: FlowForgeError.invalid("request body must be a JSON object, not an array")) {
            try decoder.decode(Order.self, from: [])
        }
        #expect(throws: FlowForgeError.invalid("lines[0].quantity must be between -9223372036854775808 and 9223372036854775807")) {
            try decoder.decode(Order.self, from: ["customer": "a", "lines": [["sku": "x", "quantity": .double(1e30)]]])
        }
    }

    @Test("each object refuses the first field its type did not ask for, nested ones included")
    func unknownFields() {
        let decoder = JSONBodyDecoder()
        #expect(throws: FlowForgeError.invalid("lines[0].colour is not a known field")) {
            try decoder.decode(Order.self, from: ["customer": "a", "lines": [["sku": "x", "quantity": 1, "colour": "red"]]])
        }
        #expect(throws: FlowForgeError.invalid("b is not a known field")) {
            try decoder.decode(Order.self, from: ["customer": "a", "lines": [], "c": 1, "b": 2])
        }
    }

    /// An answer with every kind of value the encoder writes specially.
    struct Answer: Encodable {
        var at = Date(timeIntervalSince1970: 0)
        var missing: Int64?
        var raw = RawJSON(bytes: Array(#"[1, "two"]"#.utf8))
        var stored: JSONValue = ["z": 1, "a": [true, nil]]
        var items = [1, 2]

        enum CodingKeys: String, CodingKey {
            case at, missing, raw, stored, items, left
        }

        func encode(to encoder: any Encoder) throws {
            var fields = encoder.container(keyedBy: CodingKeys.self)
            try fields.encode(at, forKey: .at)
            try fields.encode(missing, forKey: .missing)
            try fields.encodeIfPresent(missing, forKey: .left)
            try fields.encode(raw, forKey: .raw)
            try fields.encode(stored, forKey: .stored)
            var nested = fields.nestedUnkeyedContainer(forKey: .items)
            for item in items { try nested.encode(item) }
        }
    }

    @Test("encoding writes dates as timestamps, nil as null (or leaves it out), raw JSON verbatim, stored JSON sorted")
    func encoding() throws {
        let text = String(decoding: try JSONBodyEncoder().encode(Answer()), as: UTF8.self)
        #expect(text == #"{"at":"1970-01-01T00:00:00Z","missing":null,"raw":[1, "two"],"stored":{"a":[true,null],"z":1},"items":[1,2]}"#)
        #expect(String(decoding: try JSONBodyEncoder().encode([Answer?.none, nil]), as: UTF8.self) == "[null,null]")
    }
}
