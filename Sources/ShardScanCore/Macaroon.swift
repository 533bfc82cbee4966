/// A macaroon decoded from the libmacaroons v2 binary format
/// (https://github.com/rescrv/libmacaroons/blob/master/doc/format.txt), as pymacaroons writes it for PyPI
/// (https://github.com/ecordell/pymacaroons, pymacaroons/serializers/binary_serializer.py):
///
///     version byte 2
///     [location (1)] identifier (2) EOS          the header section
///     { [location (1)] identifier (2) [vid (4)] EOS }    one section per caveat
///     EOS
///     signature (6)
///
/// where each field is its type and its length as unsigned LEB128 varints, then the bytes, and EOS is a single
/// zero byte. Within a section field types must increase. The signature is kept out of this value on purpose:
/// it is what makes the token usable, and nothing decoded here may end up in a report.
public struct Macaroon: Sendable, Equatable {
    public var location: [UInt8]?
    public var identifier: [UInt8]
    public var caveats: [Caveat]

    /// One caveat. First-party caveats (all PyPI's) have only an identifier, the predicate; third-party
    /// caveats also name a verification key and may name a location.
    public struct Caveat: Sendable, Equatable {
        public var location: [UInt8]?
        public var identifier: [UInt8]
        public var verificationKeyID: [UInt8]?

        public var isFirstParty: Bool { verificationKeyID == nil }

        public init(location: [UInt8]? = nil, identifier: [UInt8], verificationKeyID: [UInt8]? = nil) {
            self.location = location
            self.identifier = identifier
            self.verificationKeyID = verificationKeyID
        }
    }

    /// Input longer than this is refused before decoding; no real token comes near it.
    public static let maximumSize = 12 * 1024
    /// More caveats than this are refused; PyPI mints at most a handful.
    public static let maximumCaveats = 256
    /// Every v2 macaroon is signed with HMAC-SHA256.
    public static let signatureSize = 32

    public init(location: [UInt8]?, identifier: [UInt8], caveats: [Caveat]) {
        self.location = location
        self.identifier = identifier
        self.caveats = caveats
    }

    /// Decodes `bytes`, which must hold one v2 macaroon and nothing after it. Every length is checked against
    /// what is left, so no input makes this read out of bounds, allocate much, or loop: each step consumes input.
    public static func decode(_ bytes: [UInt8]) throws(MacaroonError) -> Macaroon {
        guard !bytes.isEmpty else { throw .empty }
        guard bytes.count <= maximumSize else { throw .tooLarge }
        guard bytes[0] == 2 else { throw .notVersion2 }
        var reader = Reader(bytes: bytes, index: 1)

        var header = try reader.section()
        var location: [UInt8]?
        if let first = header.first, first.type == FieldType.location {
            location = Array(first.data)
            header.removeFirst()
        }
        guard header.count == 1, header[0].type == FieldType.identifier else { throw .invalidHeader }
        let identifier = Array(header[0].data)

        var caveats: [Caveat] = []
        while true {
            var section = try reader.section()
            if section.isEmpty { break }
            guard caveats.count < maximumCaveats else { throw .tooManyCaveats }
            var caveatLocation: [UInt8]?
            if let first = section.first, first.type == FieldType.location {
                caveatLocation = Array(first.data)
                section.removeFirst()
            }
            guard let first = section.first, first.type == FieldType.identifier else { throw .invalidCaveat }
            section.removeFirst()
            if section.isEmpty {
                // pymacaroons refuses a location on a first-party caveat.
                guard caveatLocation == nil else { throw .invalidCaveat }
                caveats.append(Caveat(identifier: Array(first.data)))
                continue
            }
            guard section.count == 1, section[0].type == FieldType.verificationKeyID else { throw .invalidCaveat }
            caveats.append(
                Caveat(
                    location: caveatLocation, identifier: Array(first.data), verificationKeyID: Array(section[0].data)))
        }

        guard let signature = try reader.field(), signature.type == FieldType.signature else {
            throw .missingSignature
        }
        guard signature.data.count == signatureSize else { throw .signatureSize(signature.data.count) }
        guard reader.index == bytes.count else { throw .trailingBytes(bytes.count - reader.index) }
        return Macaroon(location: location, identifier: identifier, caveats: caveats)
    }

    enum FieldType {
        static let endOfSection = 0
        static let location = 1
        static let identifier = 2
        static let verificationKeyID = 4
        static let signature = 6
    }

    struct Field {
        var type: Int
        var data: ArraySlice<UInt8>
    }

    struct Reader {
        let bytes: [UInt8]
        var index: Int

        /// An unsigned LEB128 varint of at most 4 bytes: 2^28 is far beyond any length `maximumSize` allows, and
        /// a longer varint could only overflow.
        mutating func varint() throws(MacaroonError) -> Int {
            var value = 0
            for shift in stride(from: 0, to: 28, by: 7) {
                guard index < bytes.count else { throw .truncated }
                let byte = bytes[index]
                index += 1
                value |= Int(byte & 0x7F) << shift
                if byte < 0x80 { return value }
            }
            throw .varintTooLong
        }

        /// The next field, or `nil` for EOS.
        mutating func field() throws(MacaroonError) -> Field? {
            let type = try varint()
            if type == FieldType.endOfSection { return nil }
            let length = try varint()
            guard length <= bytes.count - index else { throw .truncated }
            defer { index += length }
            return Field(type: type, data: bytes[index..<(index + length)])
        }

        /// The fields up to the next EOS.
        mutating func section() throws(MacaroonError) -> [Field] {
            var fields: [Field] = []
            while let field = try field() {
                guard field.type > (fields.last?.type ?? 0) else { throw .fieldsOutOfOrder }
                fields.append(field)
            }
            return fields
        }
    }
}

/// Why bytes are not a v2 macaroon.
public enum MacaroonError: Error, Equatable, Sendable, CustomStringConvertible {
    case empty
    case tooLarge
    case notVersion2
    case truncated
    case varintTooLong
    case fieldsOutOfOrder
    case invalidHeader
    case invalidCaveat
    case tooManyCaveats
    case missingSignature
    case signatureSize(Int)
    case trailingBytes(Int)

    public var description: String {
        switch self {
        case .empty: "empty macaroon"
        case .tooLarge: "larger than any macaroon"
        case .notVersion2: "not a v2 macaroon"
        case .truncated: "a field extends past the end"
        case .varintTooLong: "a length is too long"
        case .fieldsOutOfOrder: "fields out of order"
        case .invalidHeader: "header has no identifier"
        case .invalidCaveat: "malformed caveat"
        case .tooManyCaveats: "too many caveats"
        case .missingSignature: "no signature"
        case .signatureSize(let size): "signature is \(size) bytes, not 32"
        case .trailingBytes(let count): "\(count) bytes after the signature"
        }
    }
}
