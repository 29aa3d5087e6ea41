/// Where an address is, as far as Tally ever asks: country, region (subdivision) and city.
public struct GeoResult: Sendable, Equatable {
    public var country: String?
    public var region: String?
    public var city: String?

    public init(country: String? = nil, region: String? = nil, city: String? = nil) {
        self.country = country
        self.region = region
        self.city = city
    }

    /// Only the fields the policy's precision allows.
    public func limited(to precision: PrivacyPolicy.GeoPrecision) -> GeoResult {
        GeoResult(
            country: precision >= .country ? country : nil,
            region: precision >= .region ? region : nil,
            city: precision >= .city ? city : nil)
    }
}

/// Looks addresses up in a GeoIP database. The pipeline calls it with the full address before masking.
public protocol GeoLocator: Sendable {
    func locate(_ address: IPAddress) -> GeoResult?
}
