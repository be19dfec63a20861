import Images
import Model
import Tokenizer

/// Turns a parsed request into model input: image bytes → normalised `[3,S,S]` tensor, text →
/// token ids, exactly as the model was trained (`ImagePreprocessor`, `BertTokenizer`).
public struct Preprocessing: Sendable {
    public let images: ImagePreprocessor
    public let tokenizer: BertTokenizer
    public let maxTextLength: Int

    /// Builds the pipeline from the model's config and vocabulary.
    public init(config: ModelConfig, vocabFile: String, maxPixels: Int = ImageDecoder.defaultMaxPixels) throws {
        images = ImagePreprocessor(size: config.imageEncoder.imageSize, mean: config.preprocess.mean,
                                   std: config.preprocess.std, maxPixels: maxPixels)
        tokenizer = try BertTokenizer(vocabFile: vocabFile, doLowerCase: config.preprocess.doLowerCase)
        maxTextLength = config.preprocess.maxTextLength
    }

    /// The model input for one request: the image decoded and resized to S×S (the worker
    /// normalises it, `PixelInput.resizedRGB`) and the text's token ids.
    public func payload(for request: InferRequest) throws(APIError) -> InferencePayload {
        let resized: RGBImage
        do {
            resized = try images.resized(from: request.image)
        } catch let error as ImageError {
            throw APIError.from(error)
        } catch {
            throw APIError(.internalServerError, "preprocessing_failed", "Image preprocessing failed: \(error).")
        }
        let ids = tokenizer.encode(request.text, maxLength: maxTextLength)
        return InferencePayload(image: .resizedRGB(resized.pixels), tokenIds: ids, returnEmbedding: request.returnEmbedding)
    }
}
