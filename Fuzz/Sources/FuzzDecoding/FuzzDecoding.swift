import FuzzSupport
import ShardScanEngine

// DecodedText: UTF-16/UTF-32 transcoding and JSON unescaping, and the walk that maps decoded offsets back.
// The first byte picks the input: 0-3 the rest after the byte-order mark of UTF-16LE, UTF-16BE, UTF-32LE,
// UTF-32BE, transcoded in that form; 4 the rest as JSON; otherwise the rest as it is, transcoded in the form
// UnicodeForm.detect finds, else decoded as JSON. Invariants:
// - transcoded text is valid UTF-8, and for input valid in its encoding it is the standard library's
//   transcoding, each character's start mapping to the offset of its code units in the input;
// - every decoded offset maps inside the input, starts never decrease as offsets grow, and the end of any
//   non-empty decoded range maps past its start (a finding never maps to an empty or reversed range);
// - transcoded offsets fall on code-unit boundaries (the mark's length plus whole units, or the input's end);
// - JSON decoding never grows the text.

func fuzz(_ input: UnsafeBufferPointer<UInt8>) -> CInt {
    guard let selector = input.first else { return 0 }
    let rest = Array(input.dropFirst())
    let forms = UnicodeForm.allCases
    var original = rest
    var form: UnicodeForm?
    switch selector % 6 {
    case let index where index < 4:
        form = forms[Int(index)]
        original = form!.byteOrderMark + rest
    case 4:
        break
    default:
        form = original.withUnsafeBytes { UnicodeForm.detect($0) }
    }
    original.withUnsafeBytes { bytes in
        if let form {
            if selector % 6 >= 4 {
                require(bytes.starts(with: form.byteOrderMark), "\(form) detected without its mark")
            }
            check(DecodedText(bytes, form: form), bytes, form: form)
        } else if let text = DecodedText(json: bytes) {
            require(text.bytes.count <= bytes.count, "JSON decoding grew \(bytes.count) bytes to \(text.bytes.count)")
            checkMapping(text, bytes, unit: nil)
        }
    }
    return 0
}

private func check(_ text: DecodedText, _ original: UnsafeRawBufferPointer, form: UnicodeForm) {
    require(String(validating: text.bytes, as: UTF8.self) != nil, "transcoded \(form) is not valid UTF-8")
    checkMapping(text, original, unit: form.unitSize)
    // The reference: valid input transcoded by the standard library, with each character's offset.
    let unit = form.unitSize
    let body = Array(original.dropFirst(unit))
    guard body.count % unit == 0 else { return }
    let units = stride(from: 0, to: body.count, by: unit).map { index in
        body.withUnsafeBytes { form.unit(at: index, in: $0) }
    }
    var expected: [UInt8] = []
    var characterStarts: [(decoded: Int, original: Int)] = []
    var offset = unit
    if unit == 2 {
        var iterator = units.map { UInt16($0) }.makeIterator()
        var decoder = UTF16()
        loop: while true {
            switch decoder.decode(&iterator) {
            case .scalarValue(let scalar):
                characterStarts.append((expected.count, offset))
                offset += scalar.value > 0xFFFF ? 4 : 2
                expected += Array(String(scalar).utf8)
            case .emptyInput: break loop
            case .error: return
            }
        }
    } else {
        for value in units {
            guard let scalar = Unicode.Scalar(value) else { return }
            characterStarts.append((expected.count, offset))
            offset += 4
            expected += Array(String(scalar).utf8)
        }
    }
    require(text.bytes == expected, "\(form) transcoding differs from the standard library's")
    let (starts, _) = text.originalOffsets(starts: characterStarts.map(\.decoded), ends: [], in: original)
    require(
        starts == characterStarts.map(\.original),
        "\(form) character starts map to \(starts), not \(characterStarts.map(\.original))")
}

private func checkMapping(_ text: DecodedText, _ original: UnsafeRawBufferPointer, unit: Int?) {
    let count = text.bytes.count
    let offsets = Array(0...count)
    let (starts, ends) = text.originalOffsets(starts: offsets, ends: offsets, in: original)
    for q in offsets {
        require(
            (0...original.count).contains(starts[q]) && (0...original.count).contains(ends[q]),
            "offset \(q) maps outside the input: \(starts[q]), \(ends[q]) of \(original.count)")
        if q > 0 {
            require(starts[q] >= starts[q - 1], "starts decrease at \(q): \(starts[q - 1]) then \(starts[q])")
            require(ends[q] > starts[q - 1], "decoded \(q - 1)..<\(q) maps to \(starts[q - 1])..<\(ends[q])")
        }
        if let unit {
            for mapped in [starts[q], ends[q]] {
                require(
                    mapped == original.count || (mapped >= unit && (mapped - unit) % unit == 0),
                    "offset \(q) maps to \(mapped), inside a code unit")
            }
        }
    }
}

@_cdecl("LLVMFuzzerTestOneInput")
public func testOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    fuzz(UnsafeBufferPointer(start: data, count: size))
}

@main
enum FuzzDecodingMain {
    static func main() { runLibFuzzer(testOneInput) }
}
